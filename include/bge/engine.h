// bge.cpp public API: BGE-M3 embeddings (dense, sparse, ColBERT), M3 scores, and the
// bge-reranker-v2-m3 cross-encoder, loaded from Hugging Face model folders.
//
// Thread-safety: Tokenizer is safe to share. Embedder and Reranker run one batch at a time; calls
// from several threads are serialized. Engine (the serving path, at the end) takes requests from any
// number of threads at once and batches them together.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bge/status.h"

namespace bge {

struct EngineOptions {
    static constexpr int kMaxThreads = 1024;
    int n_threads = 0;  // CPU threads for the GEMMs; 0 = every core; at most kMaxThreads
    // Token budget of one forward pass (>= the max length). The CPU's workspace grows to the batches that
    // come; a GPU's is reserved for the whole budget at open, which refuses one the GPU cannot hold.
    int max_batch_tokens = 8192;
    // "cpu" | "cuda" (GPU 0) | "cuda:N". The serving Engine also takes a list, one worker per entry: "cuda" there is
    // every visible GPU, "cuda:0,1" two GPUs, "cuda:0,cpu" a GPU and the CPU (an entry may repeat: two workers
    // sharing a device).
    std::string device = "cpu";
    // compute dtype "fp32" | "fp16" | "bf16" | "int8"; empty: fp32 on the CPU, fp16 on a GPU. The CPU takes fp32,
    // bf16 and int8 (encoder GEMMs in that type, the rest fp32); a GPU fp32, fp16 and bf16.
    std::string dtype{};
};

// What was found and loaded.
struct ModelInfo {
    std::string dir;
    std::string kind;          // "embedder" | "reranker"
    std::string architecture;  // from config.json
    int hidden_size = 0;
    int num_hidden_layers = 0;
    int num_attention_heads = 0;
    int intermediate_size = 0;
    int vocab_size = 0;
    int max_length = 0;         // default max input tokens: min(model_max_length, max_position_embeddings - 2)
    std::string weights_dtype;  // dtype of the stored encoder weights: F32 | F16 | BF16
    std::string compute_dtype;  // what the backend computes in: F32 | F16 | BF16 | INT8+BF16 (cpu int8) ...
    std::string gemm_kernels;   // cpu backend: GEMM type and oneDNN kernel per layer count, "48 x bf16 brg:..."
    std::string attention_kernel;  // cpu backend: "f32 sgemm" or "bf16 " and oneDNN's matmul kernel
    std::string backend;        // "cpu" | "cuda:N"
    std::string device;         // the device in words
    std::string cpu_isa;        // cpu backend: instruction sets chosen at run time, e.g. "oneDNN avx2, loops x86-64-v3"
    int64_t device_memory_total_bytes = 0;  // 0 on the CPU
    int64_t device_memory_free_bytes = 0;   // after loading
    int64_t model_memory_bytes = 0;         // weights and workspaces held by this model on its device
    std::vector<std::string> files;         // every file read, in load order
    bool has_sparse = false;                // sparse_linear.pt present (embedder)
    bool has_colbert = false;               // colbert_linear.pt present (embedder)
    int colbert_dim = 0;
};

// Byte range [start, end) of the input text a token came from.
struct TokenOffset {
    uint32_t start = 0;
    uint32_t end = 0;
};

// Ids with, per id, its input bytes (tokenizers' offsets, through normalization) and which text it came from.
struct TokenizedText {
    std::vector<int32_t> ids;
    std::vector<TokenOffset> offsets;  // per id; {0, 0} for the <s>/</s> the template adds
    std::vector<int8_t> sequence;      // per id: 0 first text, 1 second text, -1 template token
};

// Tokenizes as the models do (XLM-R: <s> A </s>, pairs <s> A </s></s> B </s>).
class Tokenizer {
 public:
    // Reads the folder's tokenizer.json when it has one (the pipeline that file declares, as Hugging Face does;
    // its vocabulary is checked against sentencepiece.bpe.model when both exist), else sentencepiece.bpe.model;
    // plus config.json and tokenizer_config.json. Needs no weights.
    static StatusOr<std::unique_ptr<Tokenizer>> open(const std::string& model_dir);
    ~Tokenizer();
    // max_length <= 0 means the model's default max length. Truncation keeps the head of a single text and is
    // longest_first for pairs; tokenizing stops once the kept tokens are known. keep_tail (Hugging Face's
    // truncation_side "left", TEI's truncation_direction): the last tokens of each text are kept instead; the whole
    // text is tokenized then (its time, not its memory: only about the kept tail is held).
    StatusOr<std::vector<int32_t>> encode(std::string_view text, int max_length = 0, bool keep_tail = false) const;
    StatusOr<std::vector<int32_t>> encode_pair(std::string_view a, std::string_view b, int max_length = 0,
                                               bool keep_tail = false) const;
    // As encode / encode_pair, but an input needing more than max_length ids is kOutOfRange naming both
    // lengths, nothing is cut (the serving path's truncate=false).
    StatusOr<std::vector<int32_t>> encode_untruncated(std::string_view text, int max_length = 0) const;
    StatusOr<std::vector<int32_t>> encode_pair_untruncated(std::string_view a, std::string_view b,
                                                           int max_length = 0) const;
    // The same ids with offsets into `text` (into `a` and `b` for a pair, as `sequence` says).
    StatusOr<TokenizedText> encode_with_offsets(std::string_view text, int max_length = 0) const;
    StatusOr<TokenizedText> encode_pair_with_offsets(std::string_view a, std::string_view b, int max_length = 0) const;
    // Ids -> text as Hugging Face's tokenizers decode them (TEI's /decode): the folder's decoder (Metaspace: pieces
    // joined, "▁" -> " ", the leading space dropped), special tokens (<s>, </s>, <pad>, <unk>, <mask>) left out when
    // skip_special_tokens. An id with no token is kInvalidArgument naming it.
    StatusOr<std::string> decode(std::span<const int32_t> ids, bool skip_special_tokens = true) const;
    int default_max_length() const;
    // The file the tokenizer came from and the pipeline it runs, e.g. "DIR/tokenizer.json: normalizer ...".
    const std::string& description() const;

 private:
    Tokenizer();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

struct EmbedOptions {
    bool dense = true;
    bool sparse = true;
    bool colbert = true;
    int max_length = 0;  // <= 0: the model's default; inputs longer are truncated (head kept)
};

struct SparseWeight {
    int32_t token_id;
    float weight;
};

struct Embedding {
    int n_tokens = 0;                  // tokens the model saw, <s> and </s> included
    std::vector<float> dense;          // [hidden], unit length
    float dense_norm = 0;              // |CLS| before normalizing: dense · dense_norm is the raw CLS vector
    std::vector<SparseWeight> sparse;  // sorted by token_id; specials dropped, weights > 0
    std::vector<float> colbert;        // [n_tokens - 1, colbert_dim], unit rows (tokens 1..n-1)
    int colbert_dim = 0;
};

struct TextPair {
    std::string query;
    std::string passage;
};

struct RerankScore {
    int n_tokens = 0;
    float logit = 0;
    float score = 0;  // sigmoid(logit)
};

// BGE-M3 relevance scores of a query against a passage (FlagEmbedding's formulas).
struct M3Scores {
    float dense = 0;                 // q·p
    float sparse = 0;                // Σ over shared token ids of q_w · p_w
    float colbert = 0;               // mean over query vectors of the max dot product with passage vectors
    float sparse_dense = 0;          // (w0 dense + w1 sparse) / (w0 + w1)
    float colbert_sparse_dense = 0;  // (w0 dense + w1 sparse + w2 colbert) / (w0 + w1 + w2)
};

// Default weights for dense, sparse, colbert: the BGE-M3 README's advice.
inline constexpr std::array<float, 3> kDefaultM3Weights = {0.4f, 0.2f, 0.4f};

// Needs all three outputs in both embeddings; weights must be >= 0 with positive sums.
StatusOr<M3Scores> m3_scores(const Embedding& query, const Embedding& passage,
                             std::array<float, 3> weights = kDefaultM3Weights);

class ModelRunner;

class Embedder {
 public:
    // Loads a BAAI/bge-m3-style folder (XLMRobertaModel). A reranker folder is kFailedPrecondition.
    static StatusOr<std::unique_ptr<Embedder>> open(const std::string& model_dir, const EngineOptions& options = {});
    ~Embedder();
    // One Embedding per text, in order. Asking for sparse/colbert without their head files is kFailedPrecondition.
    // An output that is not finite is kDataLoss naming the text (damaged weights); exhausted memory is
    // kResourceExhausted. With several texts, errors name the failing one ("text i: ...").
    StatusOr<std::vector<Embedding>> embed(std::span<const std::string> texts, const EmbedOptions& options = {});
    const ModelInfo& info() const;
    const Tokenizer& tokenizer() const;

 private:
    explicit Embedder(std::unique_ptr<ModelRunner> runner);
    std::unique_ptr<ModelRunner> runner_;
};

class Reranker {
 public:
    // Loads a BAAI/bge-reranker-v2-m3-style folder (XLMRobertaForSequenceClassification, one label).
    static StatusOr<std::unique_ptr<Reranker>> open(const std::string& model_dir, const EngineOptions& options = {});
    ~Reranker();
    // max_length <= 0: the model's default; pairs are truncated longest_first. A logit that is not finite is
    // kDataLoss naming the pair; exhausted memory is kResourceExhausted.
    StatusOr<std::vector<RerankScore>> rerank(std::span<const TextPair> pairs, int max_length = 0);
    const ModelInfo& info() const;
    const Tokenizer& tokenizer() const;

 private:
    explicit Reranker(std::unique_ptr<ModelRunner> runner);
    std::unique_ptr<ModelRunner> runner_;
};

// Reads only config.json: "embedder" or "reranker" (kInvalidArgument for anything else).
StatusOr<std::string> detect_model_kind(const std::string& model_dir);

// What check_weights scanned.
struct WeightCheck {
    int64_t tensors = 0;   // floating tensors
    int64_t elements = 0;  // their elements
    uint64_t bytes = 0;    // their stored bytes
};

// Scans every floating tensor of the folder's weight files (the encoder's, sparse_linear.pt,
// colbert_linear.pt) for NaN and Inf: the first one in file order is kDataLoss naming the tensor,
// its file and the element's index. Reads every byte (the cost of reading the files once).
StatusOr<WeightCheck> check_weights(const std::string& model_dir);

// ---- Serving path: asynchronous submission, dynamic batching (DESIGN.md "Serving path") ----

// Set by whoever gave up on a request (a client that hung up); the engine drops its queued work.
class CancelFlag {
 public:
    void cancel() { flag_.store(true, std::memory_order_relaxed); }
    bool cancelled() const { return flag_.load(std::memory_order_relaxed); }

 private:
    std::atomic<bool> flag_{false};
};

struct RequestControl {
    // Past it the request fails with kDeadlineExceeded and its queued work is dropped.
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    std::shared_ptr<const CancelFlag> cancel;  // may be null; a cancelled request fails with kCancelled
    // false: an input longer than the max length fails the request (kOutOfRange) instead of being cut.
    bool truncate = true;
    // Truncation keeps the last tokens of each text instead of the first (TEI's truncation_direction "left").
    bool keep_tail = false;
};

// One text, or token ids without <s>/</s> (the engine adds them; ids must be < vocab_size).
struct EmbedInput {
    std::string text;
    std::vector<int32_t> ids;
    bool is_ids = false;
};

struct EmbedRequest {
    std::vector<EmbedInput> inputs;
    EmbedOptions outputs;  // outputs wanted; max_length <= 0: the engine's max length (a larger one is capped to it)
    RequestControl control;
};

struct RerankRequest {
    std::vector<TextPair> pairs;
    int max_length = 0;  // <= 0: the engine's max length (a larger one is capped to it); pairs cut longest_first
    RequestControl control;
};

// Where a request's time went (microseconds) and what it cost.
struct RequestStats {
    int64_t tokenize_us = 0;   // tokenizing every input
    int64_t queue_us = 0;      // tokenized until its first batch started
    int64_t inference_us = 0;  // first batch started until its last batch finished
    int64_t n_tokens = 0;      // tokens the model ran, <s> and </s> included
    int n_batches = 0;         // forward passes its inputs were spread over
};

struct EmbedResponse {
    std::vector<Embedding> embeddings;  // one per input, in order, with only the outputs asked for
    RequestStats stats;
};

struct RerankResponse {
    std::vector<RerankScore> scores;  // one per pair, in order
    RequestStats stats;
};

struct ServeOptions {
    std::string embedder_dir;  // may be empty; not both
    std::string reranker_dir;
    EngineOptions engine;         // per model worker: threads, max_batch_tokens (real tokens of one forward pass)
    int max_batch_requests = 64;  // sequences per forward pass
    int max_wait_us = 2000;       // how long a batch that is not full waits for more work
    int max_queue = 4096;         // inputs queued (tokenizing or waiting) per model; beyond: kUnavailable
    int max_input_tokens = 0;     // > 0: caps every request's max length (after the model's own limit)
    int tokenizer_threads = 0;    // 0: min(4, cores)
};

// One worker of a served model (one per --device entry), as /health and /metrics report it.
struct WorkerStatus {
    std::string model;        // "embedder" | "reranker"
    int index = 0;            // its place in the device list
    std::string device;       // "cpu", "cuda:0"
    bool healthy = true;      // false for good once a forward pass failed on it (a lost device)
    std::string error;        // why it is unhealthy
    int64_t queue_depth = 0;  // sequences handed to it and not yet finished
    int64_t batches = 0;      // forward passes that succeeded
    int64_t failures = 0;     // forward passes that failed (one out of memory, later split, included)
    int64_t tokens = 0;       // tokens of its successful forward passes
    double busy_seconds = 0;  // time in forward passes
};

// Embedder and/or reranker behind a tokenizer pool, one scheduler per model forming packed batches
// under a cost budget (tokens plus an attention term growing with length squared), and one worker
// per device of the list, each with its own copy of the weights (loaded in parallel). A request with many
// inputs is spread over batches (and so over workers) and answered in order; a worker that fails is left out
// and its batch retried on another. Thread-safe.
// Test-only: environment BGE_TEST_FAIL_WORKER=I@N makes worker I of every model fail from its N-th batch on.
class Engine {
 public:
    using EmbedCallback = std::function<void(StatusOr<EmbedResponse>)>;
    using RerankCallback = std::function<void(StatusOr<RerankResponse>)>;

    static StatusOr<std::unique_ptr<Engine>> open(const ServeOptions& options);
    // Finishes every accepted request, then stops.
    ~Engine();

    // `done` runs exactly once, on an engine thread (keep it short), or inline when the request is refused at
    // once. Errors: kInvalidArgument (no inputs, no outputs, bad ids), kFailedPrecondition (model or head not
    // served), kUnavailable (queue full or shutting down), kOutOfRange (an input too long without truncation),
    // kDeadlineExceeded, kCancelled.
    void submit(EmbedRequest request, EmbedCallback done);
    void submit(RerankRequest request, RerankCallback done);
    std::future<StatusOr<EmbedResponse>> submit(EmbedRequest request);
    std::future<StatusOr<RerankResponse>> submit(RerankRequest request);

    // Runs one batch per length bucket through every model so that first requests are not slow.
    Status warm_up();
    // Refuses new requests (kUnavailable) and waits until every accepted one is answered.
    void drain();

    bool has_embedder() const;
    bool has_reranker() const;
    const ModelInfo& embedder_info() const;  // only when has_embedder()
    const ModelInfo& reranker_info() const;  // only when has_reranker()
    const Tokenizer& embedder_tokenizer() const;
    const Tokenizer& reranker_tokenizer() const;
    // The max length a request gets when it names none: the model's, capped by max_input_tokens.
    int max_length(bool reranker) const;
    const ServeOptions& options() const;

    // The embedder's (or reranker's) workers in device-list order, as loaded; only for a model served.
    std::vector<ModelInfo> worker_infos(bool reranker) const;
    // Every worker of every served model now, the embedder's first.
    std::vector<WorkerStatus> workers() const;

    bool healthy() const;         // every model has a healthy worker
    bool degraded() const;        // some worker of some model is unhealthy
    int64_t queue_depth() const;  // inputs accepted and not yet answered, all models
    // Prometheus text of the engine's metrics (bge_ prefix): queue, tokenize, inference, batches, tokens.
    std::string metrics_text() const;

 private:
    struct Impl;
    explicit Engine(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace bge
