#include "tokenizer/unigram.h"

#include <algorithm>

#include "core/check.h"
#include "tokenizer/utf8.h"

namespace bge {
namespace {

// sentencepiece's kUnkPenalty, which Hugging Face copies.
constexpr double kUnkPenalty = 10.0;

}  // namespace

UnigramModel::UnigramModel(const std::vector<std::string_view>& pieces, std::vector<double> scores, int32_t unk_id)
    : scores_(std::move(scores)), unk_id_(unk_id) {
    BGE_CHECK(pieces.size() == scores_.size() && unk_id >= 0 && static_cast<size_t>(unk_id) < pieces.size());
    unk_score_ = *std::min_element(scores_.begin(), scores_.end()) - kUnkPenalty;

    // Pieces in byte order, equal pieces by id; most comparisons are settled by the first 8 bytes as one
    // big-endian integer (zero-padded, which orders like the strings do, ties aside).
    struct Entry {
        uint64_t key;
        int32_t id;
    };
    std::vector<Entry> order;
    order.reserve(pieces.size());
    for (size_t id = 0; id < pieces.size(); ++id) {
        uint64_t key = 0;
        for (size_t i = 0; i < 8; ++i) {
            key = key << 8 | (i < pieces[id].size() ? static_cast<uint8_t>(pieces[id][i]) : 0);
        }
        order.push_back({key, static_cast<int32_t>(id)});
    }
    std::sort(order.begin(), order.end(), [&](const Entry& a, const Entry& b) {
        if (a.key != b.key) return a.key < b.key;
        const int c = pieces[a.id].compare(pieces[b.id]);
        return c != 0 ? c < 0 : a.id < b.id;
    });
    // Equal pieces keep the largest id, as Hugging Face's token -> id map does.
    std::vector<int32_t> unique;
    unique.reserve(order.size());
    for (size_t i = 0; i < order.size(); ++i) {
        if (pieces[order[i].id].empty()) continue;
        if (i + 1 < order.size() && pieces[order[i + 1].id] == pieces[order[i].id]) continue;
        unique.push_back(order[i].id);
    }

    // The unique pieces copied in sorted order, so the walk below reads memory in sequence.
    size_t total = 0;
    for (const int32_t id : unique) total += pieces[id].size();
    std::string bytes;
    bytes.reserve(total);
    std::vector<uint32_t> starts;
    starts.reserve(unique.size() + 1);
    for (const int32_t id : unique) {
        starts.push_back(static_cast<uint32_t>(bytes.size()));
        bytes.append(pieces[id]);
    }
    starts.push_back(static_cast<uint32_t>(bytes.size()));
    auto size_of = [&](size_t i) { return starts[i + 1] - starts[i]; };
    auto byte_of = [&](size_t i, size_t depth) { return bytes[starts[i] + depth]; };

    // Node n covers the sorted pieces [lo, hi), all of which start with the node's depth-byte prefix.
    struct Span {
        uint32_t lo, hi, depth;
    };
    std::vector<Span> spans{{0, static_cast<uint32_t>(unique.size()), 0}};
    spans.reserve(total + 1);
    first_child_.reserve(total + 2);
    label_.reserve(total + 1);
    piece_id_.reserve(total + 1);
    label_.push_back(0);
    for (size_t n = 0; n < spans.size(); ++n) {
        auto [lo, hi, depth] = spans[n];
        first_child_.push_back(static_cast<uint32_t>(spans.size()));
        piece_id_.push_back(-1);
        if (lo < hi && size_of(lo) == depth) piece_id_.back() = unique[lo++];
        while (lo < hi) {
            const char c = byte_of(lo, depth);
            uint32_t end = lo + 1;
            while (end < hi && byte_of(end, depth) == c) ++end;
            spans.push_back({lo, end, depth + 1});
            label_.push_back(static_cast<uint8_t>(c));
            lo = end;
        }
    }
    first_child_.push_back(static_cast<uint32_t>(spans.size()));
}

template <typename OnMatch>
void UnigramModel::for_each_prefix_piece(std::string_view text, OnMatch on_match) const {
    uint32_t node = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<uint8_t>(text[i]);
        const auto first = label_.begin() + first_child_[node];
        const auto last = label_.begin() + first_child_[node + 1];
        const auto it = std::lower_bound(first, last, c);
        if (it == last || *it != c) return;
        node = static_cast<uint32_t>(it - label_.begin());
        if (piece_id_[node] >= 0) on_match(i + 1, piece_id_[node]);
    }
}

int32_t UnigramModel::find(std::string_view text) const {
    int32_t found = -1;
    for_each_prefix_piece(text, [&](size_t length, int32_t id) {
        if (length == text.size()) found = id;
    });
    return found;
}

void UnigramModel::encode(std::string_view word, std::vector<int32_t>* ids, std::vector<uint32_t>* ends) const {
    // best[i]: best path over word[0, i): its score, the start of its last token, and that token's id.
    struct Best {
        double score = 0;
        int64_t start = -1;
        int32_t id = -1;
    };
    std::vector<Best> best(word.size() + 1);
    auto offer = [&](size_t end, size_t start, int32_t id, double score) {
        // Strictly better only: among equal scores the first offered (earliest start, shortest) wins.
        if (best[end].start < 0 || score > best[end].score) best[end] = {score, static_cast<int64_t>(start), id};
    };
    for (size_t pos = 0; pos < word.size();) {
        const size_t char_len = std::min(utf8_sequence_length(static_cast<uint8_t>(word[pos])), word.size() - pos);
        const double base = best[pos].score;
        bool has_single_char_piece = false;
        for_each_prefix_piece(word.substr(pos), [&](size_t length, int32_t id) {
            offer(pos + length, pos, id, base + scores_[id]);
            if (length == char_len) has_single_char_piece = true;
        });
        if (!has_single_char_piece) offer(pos + char_len, pos, unk_id_, base + unk_score_);
        pos += char_len;
    }

    // Walk back; consecutive unknown tokens become one token, looked up again as a whole.
    std::vector<std::pair<int32_t, uint32_t>> reversed;  // (id, end)
    size_t end = word.size();
    size_t unk_end = 0;  // end of the pending run of unknown tokens, 0 when none
    auto flush_unknown = [&](size_t start) {
        if (unk_end == 0) return;
        const int32_t id = find(word.substr(start, unk_end - start));
        reversed.emplace_back(id >= 0 ? id : unk_id_, static_cast<uint32_t>(unk_end));
        unk_end = 0;
    };
    while (end > 0) {
        const Best& b = best[end];
        const auto start = static_cast<size_t>(b.start);
        if (b.id == unk_id_) {
            if (unk_end == 0) unk_end = end;
        } else {
            flush_unknown(end);
            reversed.emplace_back(b.id, static_cast<uint32_t>(end));
        }
        end = start;
    }
    flush_unknown(0);
    for (auto it = reversed.rbegin(); it != reversed.rend(); ++it) {
        ids->push_back(it->first);
        if (ends != nullptr) ends->push_back(it->second);
    }
}

}  // namespace bge
