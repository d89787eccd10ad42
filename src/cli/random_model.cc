#include "cli/random_model.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numbers>
#include <random>
#include <string_view>
#include <system_error>
#include <vector>

namespace bge::cli {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

// BGE-M3's shape (BAAI/bge-m3 and BAAI/bge-reranker-v2-m3 config.json).
constexpr int64_t kVocab = 250002, kHidden = 1024, kLayers = 24, kHeads = 16, kFfn = 4096, kPositions = 8194;
constexpr int64_t kSpmPieces = kVocab - 2;  // fairseq: json ids = SentencePiece ids + 1, plus <pad> and <mask>
constexpr size_t kBlock = size_t{1} << 20;  // random values, tiled over every weight

std::string os_error(const std::string& what, const std::string& path) {
    return what + " " + path + ": " + std::strerror(errno);
}

// A file written through stdio, every write and the close checked.
class OutFile {
 public:
    static StatusOr<OutFile> create(const fs::path& path) {
        std::FILE* f = std::fopen(path.c_str(), "wbx");
        if (f == nullptr) return internal_error(os_error("cannot create", path.string()));
        return OutFile(f, path.string());
    }
    OutFile(OutFile&& o) noexcept : f_(o.f_), path_(std::move(o.path_)) { o.f_ = nullptr; }
    OutFile(const OutFile&) = delete;
    ~OutFile() {
        if (f_ != nullptr) std::fclose(f_);
    }
    Status write(const void* data, size_t n) {
        if (std::fwrite(data, 1, n, f_) != n) return error("cannot write");
        return ok_status();
    }
    Status close() {
        std::FILE* f = f_;
        f_ = nullptr;
        if (std::fclose(f) != 0) return error("cannot write");
        return ok_status();
    }

 private:
    OutFile(std::FILE* f, std::string path) : f_(f), path_(std::move(path)) {}
    Status error(const char* what) const {
        if (errno == ENOSPC) return resource_exhausted("disk full writing " + path_);
        return internal_error(os_error(what, path_));
    }
    std::FILE* f_;
    std::string path_;
};

Status write_text(const fs::path& path, const std::string& text) {
    BGE_ASSIGN_OR_RETURN(OutFile f, OutFile::create(path));
    BGE_RETURN_IF_ERROR(f.write(text.data(), text.size()));
    return f.close();
}

Json config_json(bool reranker) {
    Json c = {{"architectures", {reranker ? "XLMRobertaForSequenceClassification" : "XLMRobertaModel"}},
              {"attention_probs_dropout_prob", 0.1},
              {"bos_token_id", 0},
              {"eos_token_id", 2},
              {"hidden_act", "gelu"},
              {"hidden_dropout_prob", 0.1},
              {"hidden_size", kHidden},
              {"initializer_range", 0.02},
              {"intermediate_size", kFfn},
              {"layer_norm_eps", 1e-5},
              {"max_position_embeddings", kPositions},
              {"model_type", "xlm-roberta"},
              {"num_attention_heads", kHeads},
              {"num_hidden_layers", kLayers},
              {"pad_token_id", 1},
              {"position_embedding_type", "absolute"},
              {"torch_dtype", "float16"},
              {"type_vocab_size", 1},
              {"use_cache", true},
              {"vocab_size", kVocab}};
    if (reranker) {
        c["id2label"] = {{"0", "LABEL_0"}};
        c["label2id"] = {{"LABEL_0", 0}};
    }
    return c;
}

Json tokenizer_config_json() {
    return {{"bos_token", "<s>"},       {"cls_token", "<s>"},
            {"eos_token", "</s>"},      {"mask_token", "<mask>"},
            {"model_max_length", 8192}, {"pad_token", "<pad>"},
            {"sep_token", "</s>"},      {"tokenizer_class", "XLMRobertaTokenizer"},
            {"unk_token", "<unk>"}};
}

Json special_tokens_map_json() {
    return {{"bos_token", "<s>"},   {"cls_token", "<s>"},  {"eos_token", "</s>"}, {"mask_token", "<mask>"},
            {"pad_token", "<pad>"}, {"sep_token", "</s>"}, {"unk_token", "<unk>"}};
}

struct Piece {
    std::string text;
    float score;
};

// SentencePiece ids 3.. (json ids 4..): "▁", bench's words (src/cli/cmd_bench.cc) as whole pieces, printable ASCII
// characters, then "▁" + lowercase strings of growing length until the vocabulary is full.
std::vector<Piece> normal_pieces() {
    std::vector<Piece> p = {{"\u2581", -2}, {"\u2581Deutschland", -3}, {"\u2581Россия", -3}, {"\u2581日本", -3}};
    for (char c = '!'; c <= '~'; ++c) p.push_back({std::string(1, c), -8});
    for (int length = 1; static_cast<int64_t>(p.size()) < kSpmPieces - 3; ++length) {
        std::string s(static_cast<size_t>(length), 'a');
        while (static_cast<int64_t>(p.size()) < kSpmPieces - 3) {
            p.push_back({"\u2581" + s, -4.0f - static_cast<float>(length)});
            int i = length - 1;  // next string in base 26
            while (i >= 0 && s[static_cast<size_t>(i)] == 'z') s[static_cast<size_t>(i--)] = 'a';
            if (i < 0) break;
            ++s[static_cast<size_t>(i)];
        }
    }
    return p;
}

Json added_token(int64_t id, const char* content) {
    return {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", id == kVocab - 1},
            {"rstrip", false}, {"normalized", false}, {"special", true}};
}

// The layout of BAAI/bge-m3's tokenizer.json (without its precompiled NFKC charsmap).
Json tokenizer_json(const std::vector<Piece>& pieces) {
    Json vocab = Json::array({{"<s>", 0.0}, {"<pad>", 0.0}, {"</s>", 0.0}, {"<unk>", 0.0}});
    for (const Piece& p : pieces) vocab.push_back({p.text, p.score});
    vocab.push_back({"<mask>", 0.0});
    const Json special = [] {
        Json s;
        for (const auto& [name, id] : {std::pair{"<s>", 0}, std::pair{"</s>", 2}}) {
            s[name] = {{"id", name}, {"ids", {id}}, {"tokens", {name}}};
        }
        return s;
    }();
    const auto token = [](const char* id) { return Json{{"SpecialToken", {{"id", id}, {"type_id", 0}}}}; };
    const auto sequence = [](const char* id) { return Json{{"Sequence", {{"id", id}, {"type_id", 0}}}}; };
    return {{"version", "1.0"},
            {"truncation", nullptr},
            {"padding", nullptr},
            {"added_tokens",
             {added_token(0, "<s>"), added_token(1, "<pad>"), added_token(2, "</s>"), added_token(3, "<unk>"),
              added_token(kVocab - 1, "<mask>")}},
            {"normalizer",
             {{"type", "Sequence"},
              {"normalizers", {{{"type", "Replace"}, {"pattern", {{"Regex", " {2,}"}}}, {"content", " "}}}}}},
            {"pre_tokenizer", {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"add_prefix_space", true}}},
            {"post_processor",
             {{"type", "TemplateProcessing"},
              {"single", {token("<s>"), sequence("A"), token("</s>")}},
              {"pair", {token("<s>"), sequence("A"), token("</s>"), token("</s>"), sequence("B"), token("</s>")}},
              {"special_tokens", special}}},
            {"decoder", {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"add_prefix_space", true}}},
            {"model", {{"type", "Unigram"}, {"unk_id", 3}, {"vocab", std::move(vocab)}}}};
}

// Protobuf wire format of the SentencePiece ModelProto (sentencepiece_model.proto): pieces = 1 {piece = 1,
// score = 2, type = 3}, trainer_spec = 2 {model_type = 3}.
void put_varint(std::string& out, uint64_t v) {
    for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    out.push_back(static_cast<char>(v));
}
void put_bytes(std::string& out, uint32_t field, std::string_view bytes) {
    put_varint(out, field << 3 | 2);
    put_varint(out, bytes.size());
    out.append(bytes);
}

std::string spm_model(const std::vector<Piece>& pieces) {
    std::string out;
    const auto piece = [&](std::string_view text, float score, int type) {
        std::string p;
        put_bytes(p, 1, text);
        put_varint(p, 2 << 3 | 5);
        uint32_t bits;
        std::memcpy(&bits, &score, sizeof bits);
        for (int i = 0; i < 4; ++i) p.push_back(static_cast<char>(bits >> (8 * i)));
        put_varint(p, 3 << 3 | 0);
        put_varint(p, static_cast<uint64_t>(type));
        put_bytes(out, 1, p);
    };
    piece("<unk>", 0, 2);  // UNKNOWN
    piece("<s>", 0, 3);    // CONTROL
    piece("</s>", 0, 3);
    for (const Piece& p : pieces) piece(p.text, p.score, 1);  // NORMAL
    std::string trainer;
    put_varint(trainer, 3 << 3 | 0);
    put_varint(trainer, 1);  // UNIGRAM
    put_bytes(out, 2, trainer);
    return out;
}

// float -> IEEE binary16, round to nearest even (inputs here are finite and far below 65504).
uint16_t f32_to_f16(float f) {
    uint32_t x;
    std::memcpy(&x, &f, sizeof x);
    const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000);
    x &= 0x7FFFFFFF;
    float a;
    std::memcpy(&a, &x, sizeof a);
    if (x < 0x38800000) return sign | static_cast<uint16_t>(std::nearbyint(a * 16777216.0f));  // subnormal: 2^-24
    x += 0xC8000000u + 0xFFF + ((x >> 13) & 1);  // exponent rebias 127 -> 15, then round the 13 dropped bits
    return sign | static_cast<uint16_t>(x >> 13);
}

// kBlock values of normal(0, 0.02) from mt19937_64 seed 0 through Box-Muller, the same with every standard library.
std::vector<uint16_t> random_block() {
    std::mt19937_64 rng(0);
    const auto uniform = [&] { return (static_cast<double>(rng() >> 11) + 0.5) * 0x1p-53; };  // (0, 1)
    std::vector<uint16_t> block(kBlock);
    for (size_t i = 0; i < kBlock; i += 2) {
        const double r = 0.02 * std::sqrt(-2 * std::log(uniform())), t = 2 * std::numbers::pi * uniform();
        block[i] = f32_to_f16(static_cast<float>(r * std::cos(t)));
        block[i + 1] = f32_to_f16(static_cast<float>(r * std::sin(t)));
    }
    return block;
}

enum class Fill { kRandom, kZeros, kOnes };
struct Tensor {
    std::string name;
    std::vector<int64_t> shape;
    Fill fill;
};

// The tensors HF's XLMRobertaModel (with pooler) or XLMRobertaForSequenceClassification saves.
std::vector<Tensor> tensors(bool reranker) {
    std::vector<Tensor> t;
    const std::string prefix = reranker ? "roberta." : "";
    const auto linear = [&](const std::string& name, int64_t out, int64_t in) {
        t.push_back({name + ".weight", {out, in}, Fill::kRandom});
        t.push_back({name + ".bias", {out}, Fill::kZeros});
    };
    const auto layer_norm = [&](const std::string& name) {
        t.push_back({name + ".weight", {kHidden}, Fill::kOnes});
        t.push_back({name + ".bias", {kHidden}, Fill::kZeros});
    };
    const std::string e = prefix + "embeddings.";
    t.push_back({e + "word_embeddings.weight", {kVocab, kHidden}, Fill::kRandom});
    t.push_back({e + "position_embeddings.weight", {kPositions, kHidden}, Fill::kRandom});
    t.push_back({e + "token_type_embeddings.weight", {1, kHidden}, Fill::kRandom});
    layer_norm(e + "LayerNorm");
    for (int i = 0; i < kLayers; ++i) {
        const std::string l = prefix + "encoder.layer." + std::to_string(i) + ".";
        for (const char* m : {"query", "key", "value"}) linear(l + "attention.self." + m, kHidden, kHidden);
        linear(l + "attention.output.dense", kHidden, kHidden);
        layer_norm(l + "attention.output.LayerNorm");
        linear(l + "intermediate.dense", kFfn, kHidden);
        linear(l + "output.dense", kHidden, kFfn);
        layer_norm(l + "output.LayerNorm");
    }
    if (reranker) {
        linear("classifier.dense", kHidden, kHidden);
        linear("classifier.out_proj", 1, kHidden);
    } else {
        linear("pooler.dense", kHidden, kHidden);
    }
    return t;
}

// model.safetensors in F16: an 8-byte header length, the JSON header padded with spaces to 8 bytes, the data.
Status write_safetensors(const fs::path& path, bool reranker) {
    const std::vector<Tensor> all = tensors(reranker);
    nlohmann::json header = {{"__metadata__", {{"format", "pt"}}}};
    std::vector<size_t> counts;
    size_t offset = 0;
    for (const Tensor& t : all) {
        size_t n = 1;
        for (const int64_t d : t.shape) n *= static_cast<size_t>(d);
        counts.push_back(n);
        header[t.name] = {{"dtype", "F16"}, {"shape", t.shape}, {"data_offsets", {offset, offset + 2 * n}}};
        offset += 2 * n;
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    uint8_t length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));

    const std::vector<uint16_t> block = random_block();
    const std::vector<uint16_t> zeros(kBlock, 0), ones(kBlock, 0x3C00);
    BGE_ASSIGN_OR_RETURN(OutFile f, OutFile::create(path));
    BGE_RETURN_IF_ERROR(f.write(length, sizeof length));
    BGE_RETURN_IF_ERROR(f.write(text.data(), text.size()));
    for (size_t k = 0; k < all.size(); ++k) {
        const std::vector<uint16_t>& source = all[k].fill == Fill::kRandom ? block
                                              : all[k].fill == Fill::kOnes ? ones
                                                                           : zeros;
        size_t start = k * 104729 % kBlock;  // a different stretch of the block for each tensor
        for (size_t left = counts[k]; left > 0;) {
            const size_t n = std::min(left, kBlock - start);
            BGE_RETURN_IF_ERROR(f.write(source.data() + start, 2 * n));
            left -= n;
            start = 0;
        }
    }
    return f.close();
}

Status write_folder(const fs::path& dir, bool reranker) {
    const std::vector<Piece> pieces = normal_pieces();
    BGE_RETURN_IF_ERROR(write_text(dir / "config.json", config_json(reranker).dump(2) + "\n"));
    BGE_RETURN_IF_ERROR(write_text(dir / "tokenizer_config.json", tokenizer_config_json().dump(2) + "\n"));
    BGE_RETURN_IF_ERROR(write_text(dir / "special_tokens_map.json", special_tokens_map_json().dump(2) + "\n"));
    BGE_RETURN_IF_ERROR(write_text(dir / "tokenizer.json", tokenizer_json(pieces).dump(2) + "\n"));
    BGE_RETURN_IF_ERROR(write_text(dir / "sentencepiece.bpe.model", spm_model(pieces)));
    return write_safetensors(dir / "model.safetensors", reranker);
}

StatusOr<fs::path> models_root() {
    const auto env = [](const char* name) -> std::string {
        const char* v = std::getenv(name);
        return v == nullptr ? "" : v;
    };
    if (std::string dir = env("BGE_RANDOM_MODELS_DIR"); !dir.empty()) return fs::path(dir);
    if (std::string cache = env("XDG_CACHE_HOME"); !cache.empty()) return fs::path(cache) / "bge" / "random";
    if (std::string home = env("HOME"); !home.empty()) return fs::path(home) / ".cache" / "bge" / "random";
    return failed_precondition("random weights: set BGE_RANDOM_MODELS_DIR (or HOME) to the folder that keeps them");
}

}  // namespace

StatusOr<std::string> random_model_dir(const std::string& name) {
    if (name != "bge-m3" && name != "bge-reranker-v2-m3") {
        return invalid_argument("--random-weights '" + name + "' is not one of " + kRandomModelNames);
    }
    BGE_ASSIGN_OR_RETURN(const fs::path root, models_root());
    const fs::path dir = root / name;
    std::error_code ec;
    if (fs::is_directory(dir, ec)) return dir.string();
    fs::create_directories(root, ec);
    if (ec) return internal_error("cannot create folder " + root.string() + ": " + ec.message());
    std::string tmp = (root / ("." + name + ".tmp-XXXXXX")).string();
    if (::mkdtemp(tmp.data()) == nullptr) return internal_error(os_error("cannot create a folder like", tmp));
    // mkdtemp makes it 0700; a cache others may read, as the Hugging Face cache is.
    fs::permissions(tmp,
                    fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                        fs::perms::others_exec,
                    ec);
    Status written = write_folder(tmp, name == "bge-reranker-v2-m3");
    if (written.ok()) {
        fs::rename(tmp, dir, ec);
        // Another process may have put its folder there first: use that one.
        std::error_code exists;
        if (ec && !fs::is_directory(dir, exists))
            written = internal_error("cannot rename " + tmp + " to " + dir.string());
    }
    fs::remove_all(tmp, ec);  // best effort: gone already when renamed
    BGE_RETURN_IF_ERROR(written);
    return dir.string();
}

}  // namespace bge::cli
