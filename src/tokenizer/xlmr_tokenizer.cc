// How the ids are made: libsentencepiece loads and checks the model and supplies its pieces and scores; the
// text pipeline is Hugging Face's (XLMRobertaConverter + tokenizers), rebuilt here because libsentencepiece's
// own pipeline differs from it on real input. HF splits special tokens out of the raw text, normalizes each
// remaining segment per grapheme cluster (precompiled_charsmap.h), strips trailing whitespace, turns each run
// of spaces into one "▁", prepends "▁", splits before every "▁" and runs its own Viterbi (unigram.h), in which
// <s>, <pad>, </s>, <unk> and <mask> are ordinary pieces scoring 0 (reachable through normalization, e.g.
// full-width "＜ｓ＞").
#include "tokenizer/xlmr_tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "io/mapped_file.h"
#include "tokenizer/precompiled_charsmap.h"
#include "tokenizer/spm_model_proto.h"
#include "tokenizer/unigram.h"
#include "tokenizer/utf8.h"

namespace bge {
namespace {

constexpr std::string_view kMetaspace = "\xE2\x96\x81";  // U+2581 "▁"

// Rust's char::is_whitespace (Unicode White_Space), which HF's Strip normalizer uses.
bool is_white_space(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Length of `text` without its trailing White_Space characters.
size_t trimmed_length(std::string_view text) {
    size_t end = text.size();
    while (end > 0) {
        size_t start = end - 1;
        while (start > 0 && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
        size_t n = 0;
        if (!is_white_space(decode_utf8(text, start, &n))) break;
        end = start;
    }
    return end;
}

}  // namespace

struct XlmrTokenizer::Impl {
    Impl(UnigramModel m, int32_t n_ids) : model(std::move(m)), vocab_size(n_ids) {}

    UnigramModel model;
    std::optional<PrecompiledCharsmap> charsmap;  // absent when the model has no normalization rules
    // Tokens matched in the raw text before anything else, longest first; first_bytes[b] is true when some
    // token starts with byte b.
    std::vector<std::pair<std::string, int32_t>> special_tokens;
    std::vector<bool> first_bytes = std::vector<bool>(256);
    int32_t vocab_size;

    // Appends the ids of a segment that holds no special token.
    void encode_segment(std::string_view segment, std::vector<int32_t>* ids) const;
    // Length of the special token at text[pos], its id in *id; 0 when none starts there.
    size_t match_special(std::string_view text, size_t pos, int32_t* id) const;
};

void XlmrTokenizer::Impl::encode_segment(std::string_view segment, std::vector<int32_t>* ids) const {
    if (segment.empty()) return;
    std::string normalized;
    if (charsmap) {
        charsmap->normalize(segment, &normalized);
    } else {
        normalized.assign(segment);
    }
    normalized.resize(trimmed_length(normalized));

    // Replace(" {2,}", "▁") then Metaspace's ' ' -> '▁': every run of spaces becomes one "▁".
    std::string text;
    text.reserve(normalized.size() + kMetaspace.size());
    for (size_t i = 0; i < normalized.size();) {
        if (normalized[i] != ' ') {
            text.push_back(normalized[i++]);
            continue;
        }
        while (i < normalized.size() && normalized[i] == ' ') ++i;
        text.append(kMetaspace);
    }
    if (text.empty()) return;
    if (!text.starts_with(kMetaspace)) text.insert(0, kMetaspace);  // prepend_scheme "always"

    // Metaspace split (MergedWithNext): each word runs from one "▁" to the next.
    const std::string_view view = text;
    for (size_t start = 0; start < view.size();) {
        const size_t next = std::min(view.find(kMetaspace, start + 1), view.size());
        model.encode(view.substr(start, next - start), ids);
        start = next;
    }
}

size_t XlmrTokenizer::Impl::match_special(std::string_view text, size_t pos, int32_t* id) const {
    if (!first_bytes[static_cast<uint8_t>(text[pos])]) return 0;
    for (const auto& [token, token_id] : special_tokens) {
        if (text.substr(pos).starts_with(token)) {
            *id = token_id;
            return token.size();
        }
    }
    return 0;
}

XlmrTokenizer::XlmrTokenizer() = default;
XlmrTokenizer::~XlmrTokenizer() = default;

StatusOr<std::unique_ptr<XlmrTokenizer>> XlmrTokenizer::load(const std::string& spm_path) {
    BGE_ASSIGN_OR_RETURN(std::shared_ptr<const io::MappedFile> file, io::MappedFile::open(spm_path));
    const std::string_view bytes(reinterpret_cast<const char*>(file->data()), file->size());
    sentencepiece::SentencePieceProcessor spm;
    const sentencepiece::util::Status loaded = spm.LoadFromSerializedProto(bytes);
    if (!loaded.ok()) {
        return invalid_argument(spm_path + ": not a SentencePiece model (" + loaded.ToString() + ")");
    }
    StatusOr<SpmModelFields> fields = parse_spm_model_fields(bytes);
    if (!fields.ok()) return invalid_argument(spm_path + ": " + fields.status().message());
    if (fields->model_type != SpmModelType::kUnigram) {
        return unimplemented(spm_path + ": only Unigram SentencePiece models are supported, this one has model_type " +
                             std::to_string(static_cast<int>(fields->model_type)));
    }
    const int n_pieces = spm.GetPieceSize();
    if (n_pieces < 3 || !spm.IsUnknown(0) || !spm.IsControl(1) || !spm.IsControl(2) ||
        fields->piece_types.size() != static_cast<size_t>(n_pieces)) {
        return invalid_argument(spm_path + ": expected the XLM-R piece layout <unk>, <s>, </s> at ids 0, 1, 2");
    }

    // XLMRobertaConverter's vocabulary: fairseq's four specials, pieces 3.. shifted by one, <mask> last.
    const int32_t mask_id = n_pieces + 1;
    std::vector<std::string> pieces = {"<s>", "<pad>", "</s>", "<unk>"};
    std::vector<double> scores(4, 0.0);
    std::vector<std::pair<std::string, int32_t>> special_tokens = {
        {"<s>", kBos}, {"<pad>", kPad}, {"</s>", kEos}, {"<unk>", kUnk}, {"<mask>", mask_id}};
    for (int i = 3; i < n_pieces; ++i) {
        pieces.push_back(spm.IdToPiece(i));
        scores.push_back(spm.GetScore(i));
        // The converter adds control and user-defined pieces as tokens matched in the raw text.
        const SpmPieceType type = fields->piece_types[i];
        if (type == SpmPieceType::kControl || type == SpmPieceType::kUserDefined) {
            special_tokens.emplace_back(pieces.back(), i + 1);
        }
    }
    pieces.emplace_back("<mask>");
    scores.push_back(0.0);

    auto tok = std::unique_ptr<XlmrTokenizer>(new XlmrTokenizer());
    tok->impl_ = std::make_unique<Impl>(UnigramModel(pieces, std::move(scores), kUnk), mask_id + 1);
    Impl& impl = *tok->impl_;
    if (!fields->precompiled_charsmap.empty()) {
        StatusOr<PrecompiledCharsmap> map = PrecompiledCharsmap::parse(fields->precompiled_charsmap);
        if (!map.ok()) return invalid_argument(spm_path + ": " + map.status().message());
        impl.charsmap = std::move(map).value();
    }
    // Leftmost-longest matching: at a position, the longest token wins; the first added wins among equals.
    std::stable_sort(special_tokens.begin(), special_tokens.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    for (auto& [token, id] : special_tokens) {
        if (token.empty()) continue;
        impl.first_bytes[static_cast<uint8_t>(token[0])] = true;
        impl.special_tokens.emplace_back(std::move(token), id);
    }
    return tok;
}

StatusOr<std::vector<int32_t>> XlmrTokenizer::encode(std::string_view text) const {
    BGE_RETURN_IF_ERROR(validate_utf8(text));
    std::vector<int32_t> ids;
    size_t segment_start = 0;
    for (size_t pos = 0; pos < text.size();) {
        int32_t id = 0;
        const size_t n = impl_->match_special(text, pos, &id);
        if (n == 0) {
            ++pos;
            continue;
        }
        impl_->encode_segment(text.substr(segment_start, pos - segment_start), &ids);
        ids.push_back(id);
        pos += n;
        segment_start = pos;
    }
    impl_->encode_segment(text.substr(segment_start), &ids);
    return ids;
}

StatusOr<std::vector<int32_t>> XlmrTokenizer::encode_single(std::string_view text, int max_length) const {
    if (max_length < 2) return invalid_argument("max_length " + std::to_string(max_length) + " < 2");
    BGE_ASSIGN_OR_RETURN(std::vector<int32_t> a, encode(text));
    a.resize(std::min(a.size(), static_cast<size_t>(max_length) - 2));
    std::vector<int32_t> ids;
    ids.reserve(a.size() + 2);
    ids.push_back(kBos);
    ids.insert(ids.end(), a.begin(), a.end());
    ids.push_back(kEos);
    return ids;
}

StatusOr<std::vector<int32_t>> XlmrTokenizer::encode_pair(std::string_view a_text, std::string_view b_text,
                                                          int max_length) const {
    if (max_length < 4) return invalid_argument("max_length " + std::to_string(max_length) + " < 4");
    StatusOr<std::vector<int32_t>> a_ids = encode(a_text);
    if (!a_ids.ok()) return a_ids.status().with_context("first text");
    StatusOr<std::vector<int32_t>> b_ids = encode(b_text);
    if (!b_ids.ok()) return b_ids.status().with_context("second text");
    std::vector<int32_t>& a = *a_ids;
    std::vector<int32_t>& b = *b_ids;
    // tokenizers' truncate_encodings, LongestFirst, over the budget left after the 4 special tokens.
    const size_t budget = static_cast<size_t>(max_length) - 4;
    if (a.size() + b.size() > budget) {
        size_t n1 = a.size();
        size_t n2 = b.size();
        const bool swapped = n1 > n2;
        if (swapped) std::swap(n1, n2);
        n2 = n1 > budget ? n1 : std::max(n1, budget - n1);
        if (n1 + n2 > budget) {
            n1 = budget / 2;
            n2 = n1 + budget % 2;
        }
        if (swapped) std::swap(n1, n2);
        a.resize(std::min(a.size(), n1));
        b.resize(std::min(b.size(), n2));
    }
    std::vector<int32_t> ids;
    ids.reserve(a.size() + b.size() + 4);
    ids.push_back(kBos);
    ids.insert(ids.end(), a.begin(), a.end());
    ids.push_back(kEos);
    ids.push_back(kEos);
    ids.insert(ids.end(), b.begin(), b.end());
    ids.push_back(kEos);
    return ids;
}

int32_t XlmrTokenizer::vocab_size() const {
    return impl_->vocab_size;
}

}  // namespace bge
