// The XLM-RoBERTa encoder (embeddings + post-LN transformer layers), written once against Backend.
#pragma once

#include <memory>
#include <vector>

#include "backend/backend.h"
#include "bge/status.h"
#include "model/config.h"
#include "model/packed_batch.h"
#include "model/weight_reader.h"

namespace bge {

// Activations for batches of up to `max_tokens` tokens, allocated once per worker.
// The feed-forward block is row-wise, so it runs over chunks of at most this many tokens: its
// [tokens, intermediate] buffer, 4x the hidden state, would otherwise be the largest activation.
inline constexpr int64_t kFfnChunkTokens = 8192;

struct EncoderWorkspace {
    int64_t max_tokens = 0;
    DeviceTensor ids;              // I32 [max_tokens, 1]
    DeviceTensor position_ids;     // I32 [max_tokens, 1]
    DeviceTensor cu_seqlens;       // I32 [max_tokens + 1, 1]: every sequence has at least one token
    DeviceTensor x;                // [max_tokens, hidden] the running hidden state
    DeviceTensor y;                // [max_tokens, hidden] sub-layer output, swapped with x after each LayerNorm
    DeviceTensor qkv;              // [max_tokens, 3 * hidden]
    DeviceTensor context;          // [max_tokens, hidden] attention output before Wo
    DeviceTensor ffn;              // [min(max_tokens, kFfnChunkTokens), intermediate]
    HostTensor host_ids;           // I32 [max_tokens, 1] staging for the copies to the device
    HostTensor host_position_ids;  // I32 [max_tokens, 1]
    HostTensor host_cu_seqlens;    // I32 [max_tokens + 1, 1]
};

class XlmrEncoder {
 public:
    // Reads and uploads every encoder tensor (names without the task prefix, which `weights` adds).
    static StatusOr<std::unique_ptr<XlmrEncoder>> load(const XlmrConfig& config, const WeightReader& weights,
                                                       Backend& backend);

    // Allocation failure is kResourceExhausted naming the bytes.
    StatusOr<EncoderWorkspace> make_workspace(int64_t max_tokens) const;

    // Queues the forward pass. Last hidden state [n_tokens, hidden] (activation dtype) of the packed batch, a
    // view into `ws` valid until the next call; the batch's offsets on the device are `ws.cu_seqlens`.
    // Every id must be < vocab_size and every sequence at most max_input_length() long (checked).
    // Device errors surface from backend().synchronize().
    Tensor forward(const PackedBatch& batch, EncoderWorkspace& ws) const;

    const XlmrConfig& config() const { return config_; }
    Backend& backend() const { return backend_; }

 private:
    struct Layer {
        std::unique_ptr<LinearWeight> qkv;         // [3 * hidden, hidden]: query | key | value
        std::unique_ptr<LinearWeight> attn_out;    // [hidden, hidden]
        DeviceTensor attn_ln_gamma, attn_ln_beta;  // F32 [1, hidden]
        std::unique_ptr<LinearWeight> ffn_in;      // [intermediate, hidden]
        std::unique_ptr<LinearWeight> ffn_out;     // [hidden, intermediate]
        DeviceTensor ffn_ln_gamma, ffn_ln_beta;    // F32 [1, hidden]
    };

    XlmrEncoder(const XlmrConfig& config, Backend& backend) : config_(config), backend_(backend) {}
    Status load_layer(const WeightReader& weights, int index);

    XlmrConfig config_;
    Backend& backend_;
    DeviceTensor word_embeddings_;                 // [vocab, hidden]
    DeviceTensor position_embeddings_;             // [max_positions, hidden]
    DeviceTensor token_type_embedding_;            // [1, hidden]: row 0, the only type XLM-R inputs use
    DeviceTensor embed_ln_gamma_, embed_ln_beta_;  // F32 [1, hidden]
    std::vector<Layer> layers_;
};

}  // namespace bge
