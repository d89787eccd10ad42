#include "tokenizer/precompiled_charsmap.h"

#include <algorithm>
#include <cstring>

#include "tokenizer/grapheme.h"
#include "tokenizer/utf8.h"

namespace bge {
namespace {

// darts-clone unit layout.
bool has_leaf(uint32_t unit) {
    return (unit >> 8) & 1;
}
uint32_t value(uint32_t unit) {
    return unit & ((1U << 31) - 1);
}
uint32_t label(uint32_t unit) {
    return unit & ((1U << 31) | 0xFF);
}
uint32_t offset(uint32_t unit) {
    return (unit >> 10) << ((unit & (1U << 9)) >> 6);
}

// Hugging Face tries a whole cluster only below this many bytes.
constexpr size_t kMaxClusterBytes = 6;

}  // namespace

StatusOr<PrecompiledCharsmap> PrecompiledCharsmap::parse(std::string_view blob) {
    uint32_t trie_bytes = 0;
    if (blob.size() < sizeof trie_bytes) return data_loss("precompiled_charsmap shorter than its header");
    const auto* b = reinterpret_cast<const uint8_t*>(blob.data());
    trie_bytes = b[0] | b[1] << 8 | b[2] << 16 | static_cast<uint32_t>(b[3]) << 24;
    if (trie_bytes % 4 != 0 || trie_bytes > blob.size() - 4) {
        return data_loss("precompiled_charsmap trie size " + std::to_string(trie_bytes) + " does not fit its " +
                         std::to_string(blob.size()) + " bytes");
    }
    PrecompiledCharsmap map;
    map.units_.resize(trie_bytes / 4);
    for (size_t i = 0; i < map.units_.size(); ++i) {
        const uint8_t* u = b + 4 + 4 * i;
        map.units_[i] = u[0] | u[1] << 8 | u[2] << 16 | static_cast<uint32_t>(u[3]) << 24;
    }
    map.pool_.assign(blob.substr(4 + trie_bytes));
    Status utf8 = validate_utf8(map.pool_);
    if (!utf8.ok()) return data_loss("precompiled_charsmap replacements: " + utf8.message());
    return map;
}

std::optional<std::string_view> PrecompiledCharsmap::first_prefix_rule(std::string_view key) const {
    if (units_.empty()) return std::nullopt;
    size_t node = offset(units_[0]);
    for (const char ch : key) {
        const auto c = static_cast<uint8_t>(ch);
        if (c == 0) break;
        node ^= c;
        if (node >= units_.size() || label(units_[node]) != c) return std::nullopt;
        const uint32_t unit = units_[node];
        node ^= offset(unit);
        if (node >= units_.size()) return std::nullopt;
        if (has_leaf(unit)) {
            const size_t start = value(units_[node]);
            if (start >= pool_.size()) return std::nullopt;
            return std::string_view(pool_.data() + start, strnlen(pool_.data() + start, pool_.size() - start));
        }
    }
    return std::nullopt;
}

void PrecompiledCharsmap::normalize(std::string_view text, std::string* out, std::vector<int32_t>* changes) const {
    // Hugging Face's `replace(old, new)`: the new characters replace the old one for one (change 0); extra new
    // characters are insertions (1); fewer fold the difference into the last change recorded so far.
    auto replace = [&](std::string_view old_part, std::string_view new_part) {
        out->append(new_part);
        if (changes == nullptr) return;
        const auto old_count = static_cast<int32_t>(utf8_length(old_part));
        const auto new_count = static_cast<int32_t>(utf8_length(new_part));
        changes->insert(changes->end(), new_count, 0);
        const int32_t diff = new_count - old_count;
        if (diff > 0) {
            std::fill(changes->end() - diff, changes->end(), 1);
        } else if (diff < 0 && !changes->empty()) {
            changes->back() += diff;
        }
    };
    size_t pos = 0;
    while (pos < text.size()) {
        const size_t end = grapheme_end(text, pos);
        const std::string_view cluster = text.substr(pos, end - pos);
        pos = end;
        if (cluster.size() < kMaxClusterBytes) {
            if (const std::optional<std::string_view> rule = first_prefix_rule(cluster)) {
                replace(cluster, *rule);
                continue;
            }
        }
        for (size_t i = 0; i < cluster.size();) {
            const std::string_view ch = cluster.substr(i, utf8_sequence_length(static_cast<uint8_t>(cluster[i])));
            const std::optional<std::string_view> rule = first_prefix_rule(ch);
            if (rule) {
                replace(ch, *rule);
            } else {
                out->append(ch);
                if (changes != nullptr) changes->push_back(0);
            }
            i += ch.size();
        }
    }
}

}  // namespace bge
