#include "support/random_model.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

namespace bge::testing {
namespace {

namespace fs = std::filesystem;

const std::string kSpm = std::string(BGE_TEST_DIR) + "/golden/spm/sentencepiece.bpe.model";
constexpr int kSpmPieces = 4000;

// splitmix64: fast, seedable, good enough for test weights.
class Rng {
 public:
    explicit Rng(uint64_t seed) : s_(seed) {}
    float uniform(float scale) {
        uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        return scale * (static_cast<float>(z >> 40) / static_cast<float>(1 << 24) * 2.0f - 1.0f);
    }

 private:
    uint64_t s_;
};

uint16_t to_f16(float f) {  // round to nearest for the normal range the weights use
    uint32_t u;
    std::memcpy(&u, &f, 4);
    const uint32_t sign = (u >> 16) & 0x8000;
    const int exp = static_cast<int>((u >> 23) & 0xff) - 127 + 15;
    if (exp <= 0) return static_cast<uint16_t>(sign);  // flush tiny values to zero
    const uint32_t mant = u & 0x7fffff;
    uint32_t h = sign | (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
    if (mant & 0x1000) ++h;
    return static_cast<uint16_t>(h);
}

struct Entry {
    std::string name;
    std::vector<int64_t> shape;
    enum { kRandom, kOnes, kZeros, kGamma } fill;
};

}  // namespace

void write_random_model(const std::string& dir, const RandomModelSpec& spec) {
    fs::create_directories(dir);
    const int64_t vocab = kSpmPieces + 2;
    const int64_t h = spec.hidden;
    std::vector<Entry> entries = {
        {"embeddings.word_embeddings.weight", {vocab, h}, Entry::kRandom},
        {"embeddings.position_embeddings.weight", {spec.max_positions, h}, Entry::kRandom},
        {"embeddings.token_type_embeddings.weight", {1, h}, Entry::kRandom},
        {"embeddings.LayerNorm.weight", {h}, Entry::kGamma},
        {"embeddings.LayerNorm.bias", {h}, Entry::kZeros},
    };
    for (int l = 0; l < spec.layers; ++l) {
        const std::string p = "encoder.layer." + std::to_string(l) + ".";
        for (const char* m :
             {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"}) {
            entries.push_back({p + m + ".weight", {h, h}, Entry::kRandom});
            entries.push_back({p + m + ".bias", {h}, Entry::kRandom});
        }
        entries.push_back({p + "intermediate.dense.weight", {spec.ffn, h}, Entry::kRandom});
        entries.push_back({p + "intermediate.dense.bias", {spec.ffn}, Entry::kRandom});
        entries.push_back({p + "output.dense.weight", {h, spec.ffn}, Entry::kRandom});
        entries.push_back({p + "output.dense.bias", {h}, Entry::kRandom});
        for (const char* ln : {"attention.output.LayerNorm", "output.LayerNorm"}) {
            entries.push_back({p + ln + ".weight", {h}, Entry::kGamma});
            entries.push_back({p + ln + ".bias", {h}, Entry::kZeros});
        }
    }

    const size_t elem = spec.f16 ? 2 : 4;
    nlohmann::json header = nlohmann::json::object();
    size_t offset = 0;
    for (const Entry& e : entries) {
        size_t n = 1;
        for (int64_t d : e.shape) n *= static_cast<size_t>(d);
        header[e.name] = {
            {"dtype", spec.f16 ? "F16" : "F32"}, {"shape", e.shape}, {"data_offsets", {offset, offset + n * elem}}};
        offset += n * elem;
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    std::ofstream out(dir + "/model.safetensors", std::ios::binary);
    const uint64_t header_size = text.size();
    out.write(reinterpret_cast<const char*>(&header_size), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    Rng rng(spec.seed);
    std::vector<char> buf;
    for (const Entry& e : entries) {
        size_t n = 1;
        for (int64_t d : e.shape) n *= static_cast<size_t>(d);
        buf.resize(n * elem);
        for (size_t i = 0; i < n; ++i) {
            float v = e.fill == Entry::kRandom ? rng.uniform(spec.scale) : e.fill == Entry::kZeros ? 0.0f : 1.0f;
            if (e.fill == Entry::kGamma && i < static_cast<size_t>(spec.outlier_channels)) v = spec.outlier_gain;
            if (spec.f16) {
                const uint16_t b = to_f16(v);
                std::memcpy(&buf[i * 2], &b, 2);
            } else {
                std::memcpy(&buf[i * 4], &v, 4);
            }
        }
        out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
    }
    if (!out) throw std::runtime_error("writing " + dir + "/model.safetensors failed");

    const nlohmann::json config = {{"architectures", {"XLMRobertaModel"}},
                                   {"model_type", "xlm-roberta"},
                                   {"hidden_size", spec.hidden},
                                   {"num_hidden_layers", spec.layers},
                                   {"num_attention_heads", spec.heads},
                                   {"intermediate_size", spec.ffn},
                                   {"max_position_embeddings", spec.max_positions},
                                   {"vocab_size", vocab},
                                   {"type_vocab_size", 1},
                                   {"layer_norm_eps", 1e-5},
                                   {"pad_token_id", 1},
                                   {"hidden_act", "gelu"}};
    std::ofstream(dir + "/config.json") << config.dump(2);
    fs::copy_file(kSpm, dir + "/sentencepiece.bpe.model", fs::copy_options::overwrite_existing);
}

}  // namespace bge::testing
