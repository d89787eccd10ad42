// How the ids are made, as tokenizers does it: added tokens are split out of the raw text; each stretch between
// them is normalized, searched for normalized added tokens, pre-tokenized into words, and each word segmented by
// the Unigram model (unigram.h); the post-processor template adds <s>/</s>. Every byte keeps the input span it
// came from (normalized_text.h), which gives the offsets.
//
// Long inputs: a stretch is tokenized in chunks cut at "safe" spaces, where tokenizing the two sides apart
// provably gives the ids of tokenizing them together (see chunk_end), so truncation can stop early.
#include "tokenizer/xlmr_tokenizer.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <utility>

#include "io/mapped_file.h"
#include "tokenizer/grapheme.h"
#include "tokenizer/spm_model_proto.h"
#include "tokenizer/tokenizer_json.h"
#include "tokenizer/tokenizer_spec.h"
#include "tokenizer/unigram.h"
#include "tokenizer/utf8.h"

namespace bge {
namespace {

constexpr std::string_view kMetaspace = "\xE2\x96\x81";  // U+2581 "▁"
// A stretch of text is cut into chunks of about this many bytes when it can be.
constexpr size_t kChunkBytes = 16 * 1024;

std::vector<std::string_view> piece_views(const TokenizerSpec& spec) {
    std::vector<std::string_view> views(spec.n_pieces());
    for (size_t i = 0; i < views.size(); ++i) views[i] = spec.piece(i);
    return views;
}

// A Replace whose every match is a run of ASCII spaces: " ", "  " ... as a literal, or " ", " +", " {n,}",
// " {n,m}" as a regex.
bool matches_only_spaces(const NormalizerStep& step) {
    const std::string& p = step.pattern;
    if (p.empty()) return false;
    if (!step.regex) return p.find_first_not_of(' ') == std::string::npos;
    if (p == " " || p == " +") return true;
    if (p.size() < 4 || p[0] != ' ' || p[1] != '{' || p.back() != '}') return false;
    const std::string body = p.substr(2, p.size() - 3);  // "n," | "n,m" | "n"
    return !body.empty() && body.find_first_not_of("0123456789,") == std::string::npos && body[0] != ',' &&
           std::count(body.begin(), body.end(), ',') <= 1 && body != "0" && body.rfind("0,", 0) != 0;
}

size_t count_specials(const std::vector<TemplateItem>& items) {
    return static_cast<size_t>(
        std::count_if(items.begin(), items.end(), [](const TemplateItem& t) { return t.sequence < 0; }));
}

}  // namespace

struct XlmrTokenizer::Impl {
    Impl(TokenizerSpec s, UnigramModel m) : spec(std::move(s)), model(std::move(m)) {}

    TokenizerSpec spec;
    UnigramModel model;
    AddedTokenMatcher raw_tokens;         // added tokens with normalized = false
    AddedTokenMatcher normalized_tokens;  // normalized = true
    bool chunkable = false;
    const PrecompiledCharsmap* charsmap = nullptr;  // the one Precompiled step, if any (chunk_end looks at it)
    int32_t vocab_size = 0;
    std::vector<bool> is_added_id;  // by id
    std::vector<int> added_index;   // by id: its entry of spec.added_tokens, or -1
    std::string description;

    // RobertaProcessing's trim_offsets on the tokens of one sequence of `text`.
    void trim_offsets(std::string_view text, Encoding* e) const;
    // Appends a token with its offsets (and, for trim_offsets, the whitespace at the ends of its string).
    void add_token(int32_t id, Span span, std::string_view token, Encoding* out) const;

    // End of the next chunk of raw_text[begin, end): `end`, or a safe cut past begin + kChunkBytes.
    size_t chunk_end(std::string_view text, size_t begin, size_t end, bool segment_start) const;
    // Appends the tokens of text[begin, end), a stretch (or chunk) holding no raw added token.
    void encode_chunk(std::string_view text, size_t begin, size_t end, bool offsets, Encoding* out) const;
    void encode_words(std::vector<Piece> pieces, bool offsets, Encoding* out) const;
    std::string normalized_cluster(std::string_view cluster) const;
};

std::string XlmrTokenizer::Impl::normalized_cluster(std::string_view cluster) const {
    std::string out;
    if (charsmap == nullptr) return std::string(cluster);
    charsmap->normalize(cluster, &out);
    return out;
}

// A cut before text[p] is safe when text[p] is an ASCII space forming a grapheme cluster of its own, normalized to
// itself, and the clusters on both sides neither are nor normalize to something that starts or ends in White_Space
// (or nothing). Then, for the pipelines `chunkable` admits (one Precompiled, right-only Strip, space-run Replace;
// Metaspace with split, WhitespaceSplit, Whitespace; no normalized added tokens), normalization works per cluster
// and never joins across the space, the space becomes a word boundary in every pre-tokenizer, and the model works
// per word: the ids of the two sides, concatenated, are the ids of the whole.
size_t XlmrTokenizer::Impl::chunk_end(std::string_view text, size_t begin, size_t end, bool segment_start) const {
    if (!chunkable || end - begin <= kChunkBytes) return end;
    // tokenizers loses a deletion at the very start of a normalized stretch (the offsets of the rest shift by
    // one character); only the whole stretch reproduces that.
    const size_t first_end = grapheme_end(text, begin);
    if (segment_start && normalized_cluster(text.substr(begin, first_end - begin)).empty()) return end;
    auto white_at_start = [](std::string_view s) {
        size_t n = 0;
        return s.empty() || is_white_space(decode_utf8(s, 0, &n));
    };
    auto white_at_end = [](std::string_view s) {
        if (s.empty()) return true;
        size_t start = s.size() - 1;
        while (start > 0 && (static_cast<uint8_t>(s[start]) & 0xC0) == 0x80) --start;
        size_t n = 0;
        return is_white_space(decode_utf8(s, start, &n));
    };
    if (normalized_cluster(" ") != " ") return end;
    // Start from a known cluster boundary past begin + kChunkBytes: a space whose previous character is not a
    // Prepend (pairwise, the only UAX #29 rule that could join anything to a space from the left).
    size_t q = begin + kChunkBytes;
    for (q = text.find(' ', q); q != std::string_view::npos && q < end; q = text.find(' ', q + 1)) {
        size_t prev_start = q - 1;
        while (prev_start > begin && (static_cast<uint8_t>(text[prev_start]) & 0xC0) == 0x80) --prev_start;
        if (grapheme_end(text, prev_start) == q) break;
    }
    if (q == std::string_view::npos || q >= end) return end;
    size_t prev = q;  // start of the cluster before `pos`
    for (size_t pos = grapheme_end(text, q); pos < end;) {
        const size_t next = grapheme_end(text, pos);
        if (text[pos] == ' ' && next == pos + 1 && next < end) {
            const std::string_view before = text.substr(prev, pos - prev);
            const size_t after_end = grapheme_end(text, next);
            const std::string_view after = text.substr(next, after_end - next);
            if (!white_at_end(before) && !white_at_start(after) && !white_at_end(normalized_cluster(before)) &&
                !white_at_start(normalized_cluster(after))) {
                return pos;
            }
        }
        prev = pos;
        pos = next;
    }
    return end;
}

void XlmrTokenizer::Impl::encode_words(std::vector<Piece> pieces, bool offsets, Encoding* out) const {
    pre_tokenize(spec.pre_tokenizers, &pieces);
    std::vector<uint32_t> ends;
    for (const Piece& word : pieces) {
        const size_t first = out->ids.size();
        ends.clear();
        model.encode(word.text.text(), &out->ids, offsets ? &ends : nullptr);
        if (!offsets) continue;
        const std::vector<int32_t> ids(out->ids.begin() + static_cast<ptrdiff_t>(first), out->ids.end());
        out->ids.resize(first);
        uint32_t start = 0;
        for (size_t i = 0; i < ids.size(); ++i) {
            const uint32_t stop = ends[i];
            add_token(ids[i], word.text.input_span(start, stop),
                      std::string_view(word.text.text()).substr(start, stop - start), out);
            start = stop;
        }
    }
}

void XlmrTokenizer::Impl::encode_chunk(std::string_view text, size_t begin, size_t end, bool offsets,
                                       Encoding* out) const {
    NormalizedText chunk(text.substr(begin, end - begin), static_cast<uint32_t>(begin));
    normalize(spec.normalizers, &chunk);
    if (chunk.empty()) return;
    if (normalized_tokens.empty()) {
        encode_words({{std::move(chunk), static_cast<uint32_t>(begin)}}, offsets, out);
        return;
    }
    for (const AddedTokenMatcher::Split& s : normalized_tokens.split(chunk.text())) {
        if (s.id >= 0) {
            if (offsets) {
                add_token(s.id, chunk.input_span(s.begin, s.end),
                          std::string_view(chunk.text()).substr(s.begin, s.end - s.begin), out);
            } else {
                out->ids.push_back(s.id);
            }
        } else {
            encode_words({{chunk.slice(s.begin, s.end), chunk.spans()[s.begin].start}}, offsets, out);
        }
    }
}

// tokenizers' process_offsets (byte_level.rs) as the Python binding runs it, on character offsets: a token whose
// string starts (ends) with n whitespace characters ('Ġ' too) loses n characters of its range at that end, except
// at the start of the first token when add_prefix_space.
void XlmrTokenizer::Impl::trim_offsets(std::string_view text, Encoding* e) const {
    for (size_t i = 0; i < e->ids.size(); ++i) {
        Span& span = e->offsets[i];
        auto [leading, trailing] = e->space_ends[i];
        if (leading > 0 && spec.trim_keeps_first && (i == 0 || span.start == 0)) leading = 0;
        size_t n = 0;
        for (; leading > 0 && span.start < span.end; --leading) {
            decode_utf8(text, span.start, &n);
            span.start = std::min<uint32_t>(span.end, span.start + static_cast<uint32_t>(n));
        }
        for (; trailing > 0 && span.end > span.start; --trailing) {
            uint32_t start = span.end - 1;
            while (start > span.start && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
            span.end = start;
        }
    }
}

void XlmrTokenizer::Impl::add_token(int32_t id, Span span, std::string_view token, Encoding* out) const {
    out->ids.push_back(id);
    out->offsets.push_back(span);
    if (!spec.trim_offsets) return;
    auto is_space = [](char32_t c) { return c == 0x120 || is_white_space(c); };
    std::vector<char32_t> chars;
    for (size_t pos = 0, n = 0; pos < token.size(); pos += n) chars.push_back(decode_utf8(token, pos, &n));
    uint16_t leading = 0, trailing = 0;
    while (leading < chars.size() && is_space(chars[leading])) ++leading;
    while (trailing < chars.size() && is_space(chars[chars.size() - 1 - trailing])) ++trailing;
    out->space_ends.emplace_back(leading, trailing);
}

namespace {

// The tokens of one sequence, produced stretch by stretch so that truncation can stop reading.
class SequenceStream {
 public:
    SequenceStream(const XlmrTokenizer::Impl& impl, std::string_view text, bool offsets)
        : impl_(impl), text_(text), offsets_(offsets) {}

    // Appends the tokens of the next chunk of text to `out`; false (nothing appended) at the end.
    bool next(Encoding* out) {
        while (true) {
            if (chunk_pos_ < stretch_end_) {
                const size_t end = impl_.chunk_end(text_, chunk_pos_, stretch_end_, chunk_pos_ == stretch_begin_);
                impl_.encode_chunk(text_, chunk_pos_, end, offsets_, out);
                chunk_pos_ = end;
                return true;
            }
            if (pos_ >= text_.size()) return false;
            const AddedTokenMatcher::Split s = impl_.raw_tokens.next_split(text_, pos_);
            pos_ = s.end;
            if (s.id >= 0) {
                if (offsets_) {
                    impl_.add_token(s.id, {static_cast<uint32_t>(s.begin), static_cast<uint32_t>(s.end)},
                                    text_.substr(s.begin, s.end - s.begin), out);
                } else {
                    out->ids.push_back(s.id);
                }
                return true;
            }
            stretch_begin_ = chunk_pos_ = s.begin;
            stretch_end_ = s.end;
        }
    }

 private:
    const XlmrTokenizer::Impl& impl_;
    std::string_view text_;
    bool offsets_;
    size_t pos_ = 0;  // start of the next raw split
    size_t stretch_begin_ = 0, stretch_end_ = 0, chunk_pos_ = 0;
};

// One side of a pair (or a single text) read up to `cap` tokens; `count` goes on counting when asked.
struct Side {
    Side(const XlmrTokenizer::Impl& impl, std::string_view text, bool offsets) : stream(impl, text, offsets) {}
    SequenceStream stream;
    Encoding tokens;
    size_t count = 0;
    bool done = false;

    // Reads on until at least `cap` tokens are held or the text ends; keeps only the first `keep`.
    void read_to(size_t cap, size_t keep) {
        while (!done && count < cap) {
            const size_t before = tokens.ids.size();
            done = !stream.next(&tokens);
            count += tokens.ids.size() - before;
            truncate(keep);
        }
    }
    void truncate(size_t n) {
        if (tokens.ids.size() > n) tokens.ids.resize(n);
        if (tokens.offsets.size() > n) tokens.offsets.resize(n);
        if (tokens.space_ends.size() > n) tokens.space_ends.resize(n);
    }
    // Keeps the last n ids (only ids: the tail paths have no offsets).
    void keep_last(size_t n) {
        if (tokens.ids.size() > n) tokens.ids.erase(tokens.ids.begin(), tokens.ids.end() - static_cast<ptrdiff_t>(n));
    }
    // Reads the whole text holding only about its last `keep` ids (memory bounded by keep and one chunk); count
    // is the total.
    void read_tail(size_t keep) {
        while (!done) {
            const size_t before = tokens.ids.size();
            done = !stream.next(&tokens);
            count += tokens.ids.size() - before;
            if (tokens.ids.size() > 2 * keep + 4096) keep_last(keep);
        }
        keep_last(keep);
    }
};

Status check_input(std::string_view text) {
    if (text.size() >= UINT32_MAX) {
        return invalid_argument("text of " + std::to_string(text.size()) + " bytes is too large (limit 4 GiB)");
    }
    return validate_utf8(text);
}

// The template applied to the sequences (a second one only for pairs).
Encoding assemble(const std::vector<TemplateItem>& items, Encoding* a, Encoding* b, bool offsets) {
    Encoding out;
    for (const TemplateItem& item : items) {
        if (item.sequence < 0) {
            out.ids.push_back(item.id);
            if (offsets) {
                out.offsets.push_back({});
                out.sequence.push_back(-1);
            }
            continue;
        }
        const Encoding& e = item.sequence == 0 ? *a : *b;
        out.ids.insert(out.ids.end(), e.ids.begin(), e.ids.end());
        if (offsets) {
            out.offsets.insert(out.offsets.end(), e.offsets.begin(), e.offsets.end());
            out.sequence.insert(out.sequence.end(), e.ids.size(), static_cast<int8_t>(item.sequence));
        }
    }
    return out;
}

}  // namespace

XlmrTokenizer::XlmrTokenizer() = default;
XlmrTokenizer::~XlmrTokenizer() = default;

StatusOr<std::unique_ptr<XlmrTokenizer>> XlmrTokenizer::build(TokenizerSpec spec, std::string description) {
    for (const TemplateItem& t : spec.single) {
        if (t.sequence > 0) return invalid_argument("post_processor: the single template uses sequence B");
    }
    UnigramModel model(piece_views(spec), spec.scores, spec.unk_id);
    auto tok = std::unique_ptr<XlmrTokenizer>(new XlmrTokenizer());
    tok->impl_ = std::make_unique<Impl>(std::move(spec), std::move(model));
    Impl& impl = *tok->impl_;
    const TokenizerSpec& s = impl.spec;

    // tokenizers re-adds the file's added tokens in order: one whose content is a piece of the model takes the
    // piece's id, one seen before keeps its id, any other the next id past the model and the tokens so far (the
    // file's "id" only draws a warning there when it differs).
    std::map<std::string, int32_t> added_ids;
    int32_t max_added = -1;
    for (AddedToken& t : impl.spec.added_tokens) {
        if (const int32_t piece = impl.model.find(t.content); piece >= 0) {
            t.id = piece;
        } else if (auto it = added_ids.find(t.content); it != added_ids.end()) {
            t.id = it->second;
        } else {
            const auto n_pieces = static_cast<int32_t>(s.n_pieces());
            t.id = max_added >= n_pieces ? max_added + 1 : n_pieces;
        }
        added_ids.emplace(t.content, t.id);
        max_added = std::max(max_added, t.id);
    }
    std::vector<AddedToken> raw, normalized;
    int32_t max_id = static_cast<int32_t>(s.n_pieces()) - 1;
    for (size_t k = 0; k < s.added_tokens.size(); ++k) {
        const AddedToken& t = s.added_tokens[k];
        if (impl.is_added_id.size() <= static_cast<size_t>(t.id)) {
            impl.is_added_id.resize(t.id + 1);
            impl.added_index.resize(t.id + 1, -1);
        }
        impl.is_added_id[t.id] = true;
        if (impl.added_index[t.id] < 0) impl.added_index[t.id] = static_cast<int>(k);
        (t.normalized ? normalized : raw).push_back(t);
        max_id = std::max(max_id, t.id);
    }
    for (const auto* items : {&s.single, &s.pair}) {
        for (const TemplateItem& t : *items) max_id = std::max(max_id, t.id);
    }
    impl.vocab_size = max_id + 1;
    impl.raw_tokens = AddedTokenMatcher(std::move(raw));
    impl.normalized_tokens = AddedTokenMatcher(std::move(normalized));

    bool chunkable = impl.normalized_tokens.empty() && !s.pre_tokenizers.empty();
    for (const PreTokenizerStep& p : s.pre_tokenizers) {
        if (p.kind == PreTokenizerStep::Kind::kMetaspace && !p.split) chunkable = false;
    }
    int n_precompiled = 0;
    for (const NormalizerStep& n : s.normalizers) {
        switch (n.kind) {
            case NormalizerStep::Kind::kPrecompiled:
                impl.charsmap = n.charsmap.get();
                ++n_precompiled;
                break;
            case NormalizerStep::Kind::kStrip:
                chunkable &= !n.strip_left;
                break;
            case NormalizerStep::Kind::kReplace:
                chunkable &= matches_only_spaces(n);
                break;
        }
    }
    impl.chunkable = chunkable && n_precompiled <= 1;
    impl.description = std::move(description) + ": normalizer " + describe(s.normalizers) + ", pre_tokenizer " +
                       describe(s.pre_tokenizers) + ", model Unigram (" + std::to_string(s.n_pieces()) +
                       " pieces), post_processor " + s.post_processor + ", " + std::to_string(s.added_tokens.size()) +
                       " added tokens";
    return tok;
}

StatusOr<std::unique_ptr<XlmrTokenizer>> XlmrTokenizer::load(const std::string& spm_path) {
    BGE_ASSIGN_OR_RETURN(std::shared_ptr<const io::MappedFile> file, io::MappedFile::open(spm_path));
    const std::string_view bytes(reinterpret_cast<const char*>(file->data()), file->size());
    // Read with our own protobuf walk: libsentencepiece's loader builds tries the pipeline never uses and costs
    // most of a second on a 250k-piece model.
    StatusOr<SpmModelFields> fields = parse_spm_model_fields(bytes);
    if (!fields.ok())
        return invalid_argument(spm_path + ": not a SentencePiece model (" + fields.status().message() + ")");
    if (fields->pieces.empty()) return invalid_argument(spm_path + ": not a SentencePiece model (no pieces)");
    if (fields->model_type != SpmModelType::kUnigram) {
        return unimplemented(spm_path + ": only Unigram SentencePiece models are supported, this one has model_type " +
                             std::to_string(static_cast<int>(fields->model_type)));
    }
    const size_t n_pieces = fields->pieces.size();
    const std::vector<SpmPieceType>& types = fields->piece_types;
    if (n_pieces < 3 || types[0] != SpmPieceType::kUnknown || types[1] != SpmPieceType::kControl ||
        types[2] != SpmPieceType::kControl) {
        return invalid_argument(spm_path + ": expected the XLM-R piece layout <unk>, <s>, </s> at ids 0, 1, 2");
    }

    // XLMRobertaConverter's tokenizer: fairseq's four specials, pieces 3.. shifted by one, <mask> last (lstrip);
    // control and user-defined pieces become added tokens; Precompiled, Strip(right), Replace(" {2,}" -> "▁"),
    // Metaspace(prepend always, split), <s> A </s> and <s> A </s> </s> B </s>.
    TokenizerSpec spec;
    spec.pieces.reserve(bytes.size() / 2);
    spec.scores.reserve(n_pieces + 2);
    spec.piece_offsets.reserve(n_pieces + 3);
    const auto mask_id = static_cast<int32_t>(n_pieces + 1);
    int32_t id = 0;
    for (const char* special : {"<s>", "<pad>", "</s>", "<unk>"}) {
        spec.add_piece(special, 0.0);
        spec.added_tokens.push_back({special, id++, false, false, false, false, true});
    }
    for (size_t i = 3; i < n_pieces; ++i) {
        spec.add_piece(fields->pieces[i], fields->scores[i]);
        if (types[i] == SpmPieceType::kControl || types[i] == SpmPieceType::kUserDefined) {
            spec.added_tokens.push_back(
                {std::string(fields->pieces[i]), static_cast<int32_t>(i + 1), false, false, false, false, true});
        }
    }
    spec.add_piece("<mask>", 0.0);
    spec.added_tokens.push_back({"<mask>", mask_id, false, true, false, false, true});
    spec.unk_id = 3;
    if (validate_utf8(spec.pieces).ok() == false) return data_loss(spm_path + ": pieces are not valid UTF-8");

    if (!fields->precompiled_charsmap.empty()) {
        StatusOr<PrecompiledCharsmap> map = PrecompiledCharsmap::parse(fields->precompiled_charsmap);
        if (!map.ok()) return invalid_argument(spm_path + ": " + map.status().message());
        NormalizerStep step;
        step.charsmap = std::make_shared<const PrecompiledCharsmap>(std::move(map).value());
        spec.normalizers.push_back(std::move(step));
    }
    NormalizerStep strip;
    strip.kind = NormalizerStep::Kind::kStrip;
    strip.strip_right = true;
    spec.normalizers.push_back(std::move(strip));
    NormalizerStep spaces;
    spaces.kind = NormalizerStep::Kind::kReplace;
    spaces.pattern = " {2,}";
    BGE_ASSIGN_OR_RETURN(spaces.regex, Regex::compile(spaces.pattern));
    spaces.content = kMetaspace;
    spec.normalizers.push_back(std::move(spaces));
    spec.pre_tokenizers.push_back(PreTokenizerStep{});
    spec.single = {{-1, 0}, {0, -1}, {-1, 2}};
    spec.pair = {{-1, 0}, {0, -1}, {-1, 2}, {-1, 2}, {1, -1}, {-1, 2}};
    spec.post_processor = "TemplateProcessing";
    return build(std::move(spec), spm_path + " (pipeline of today's XLMRobertaConverter)");
}

StatusOr<std::unique_ptr<XlmrTokenizer>> XlmrTokenizer::load_json(const std::string& json_path,
                                                                  const std::string& spm_path) {
    BGE_ASSIGN_OR_RETURN(std::shared_ptr<const io::MappedFile> file, io::MappedFile::open(json_path));
    StatusOr<TokenizerSpec> spec =
        parse_tokenizer_json(std::string_view(reinterpret_cast<const char*>(file->data()), file->size()));
    if (!spec.ok()) return spec.status().with_context(json_path);
    if (!spm_path.empty()) {
        BGE_ASSIGN_OR_RETURN(std::shared_ptr<const io::MappedFile> spm_file, io::MappedFile::open(spm_path));
        StatusOr<SpmModelFields> fields =
            parse_spm_model_fields(std::string_view(reinterpret_cast<const char*>(spm_file->data()), spm_file->size()));
        if (!fields.ok()) return fields.status().with_context(spm_path);
        // fairseq order: json ids 4.. are SentencePiece ids 3..; <mask> may follow.
        const size_t n = fields->pieces.size();
        if (spec->n_pieces() < n + 1) {
            return data_loss(json_path + " has " + std::to_string(spec->n_pieces()) + " pieces, fewer than the " +
                             std::to_string(n) + " of " + spm_path + " + 1");
        }
        for (size_t i = 3; i < n; ++i) {
            if (spec->piece(i + 1) != fields->pieces[i]) {
                return data_loss(json_path + ": vocabulary differs from " + spm_path + " at id " +
                                 std::to_string(i + 1) + " ('" + std::string(spec->piece(i + 1)) + "' vs '" +
                                 std::string(fields->pieces[i]) + "')");
            }
        }
    }
    return build(std::move(spec).value(), json_path);
}

StatusOr<std::string> XlmrTokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
    const TokenizerSpec& s = impl_->spec;
    std::vector<std::string_view> tokens;
    tokens.reserve(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
        const int32_t id = ids[i];
        // tokenizers looks an id up among the added tokens first, then in the model.
        const int added = id >= 0 && static_cast<size_t>(id) < impl_->added_index.size() ? impl_->added_index[id] : -1;
        if (added >= 0) {
            const AddedToken& t = s.added_tokens[static_cast<size_t>(added)];
            if (!(skip_special_tokens && t.special)) tokens.push_back(t.content);
        } else if (id >= 0 && static_cast<size_t>(id) < s.n_pieces()) {
            tokens.push_back(s.piece(static_cast<size_t>(id)));
        } else {
            return invalid_argument("id " + std::to_string(id) + " at position " + std::to_string(i) +
                                    " is no token of the vocabulary (" + std::to_string(impl_->vocab_size) + " ids)");
        }
    }
    return decode_tokens(s.decoder, tokens);
}

StatusOr<std::vector<int32_t>> XlmrTokenizer::encode(std::string_view text) const {
    BGE_RETURN_IF_ERROR(check_input(text));
    Side side(*impl_, text, false);
    side.read_to(SIZE_MAX, SIZE_MAX);
    return std::move(side.tokens.ids);
}

StatusOr<Encoding> XlmrTokenizer::encode_single_with_offsets(std::string_view text, int max_length) const {
    const size_t n_special = count_specials(impl_->spec.single);
    if (max_length < 0 || static_cast<size_t>(max_length) < n_special) {
        return invalid_argument("max_length " + std::to_string(max_length) + " < " + std::to_string(n_special));
    }
    BGE_RETURN_IF_ERROR(check_input(text));
    const size_t budget = static_cast<size_t>(max_length) - n_special;
    Side side(*impl_, text, true);
    side.read_to(budget, budget);
    if (impl_->spec.trim_offsets) impl_->trim_offsets(text, &side.tokens);
    return assemble(impl_->spec.single, &side.tokens, nullptr, true);
}

StatusOr<std::vector<int32_t>> XlmrTokenizer::encode_single(std::string_view text, int max_length,
                                                            bool keep_tail) const {
    const size_t n_special = count_specials(impl_->spec.single);
    if (max_length < 0 || static_cast<size_t>(max_length) < n_special) {
        return invalid_argument("max_length " + std::to_string(max_length) + " < " + std::to_string(n_special));
    }
    BGE_RETURN_IF_ERROR(check_input(text));
    const size_t budget = static_cast<size_t>(max_length) - n_special;
    Side side(*impl_, text, false);
    if (keep_tail) {
        side.read_tail(budget);
    } else {
        side.read_to(budget, budget);
    }
    return std::move(assemble(impl_->spec.single, &side.tokens, nullptr, false).ids);
}

StatusOr<Encoding> XlmrTokenizer::encode_pair_impl(std::string_view a_text, std::string_view b_text, int max_length,
                                                   bool offsets, bool keep_tail) const {
    const size_t n_special = count_specials(impl_->spec.pair);
    if (max_length < 0 || static_cast<size_t>(max_length) < n_special) {
        return invalid_argument("max_length " + std::to_string(max_length) + " < " + std::to_string(n_special));
    }
    Status a_ok = check_input(a_text);
    if (!a_ok.ok()) return a_ok.with_context("first text");
    Status b_ok = check_input(b_text);
    if (!b_ok.ok()) return b_ok.with_context("second text");
    // tokenizers' truncate_encodings, LongestFirst, over the budget left after the template's tokens. Lengths past
    // budget + 1 change nothing, except which side is longer when both are past it and the budget is odd.
    const size_t budget = static_cast<size_t>(max_length) - n_special;
    Side a(*impl_, a_text, offsets), b(*impl_, b_text, offsets);
    // Keeping heads needs the first budget + 1 ids of each side; keeping tails every side's length and its last
    // `budget` ids (no side keeps more).
    const size_t cap = budget + 1;
    if (keep_tail) {
        a.read_tail(budget);
        b.read_tail(budget);
    } else {
        a.read_to(cap, cap);
        b.read_to(cap, cap);
    }
    size_t n1 = a.count, n2 = b.count;
    if (n1 + n2 > budget) {
        bool a_longer = n1 > n2;
        if (n1 > budget && n2 > budget && budget % 2 == 1) {
            // Count on (holding no more ids) until one side ends.
            while (!a.done && !b.done) {
                Side& behind = a.count <= b.count ? a : b;
                behind.read_to(behind.count + 1, cap);
            }
            if (a.done) b.read_to(a.count + 1, cap);
            if (b.done) a.read_to(b.count + 1, cap);
            a_longer = a.count > b.count;
        }
        const bool swapped = a_longer;
        if (swapped) std::swap(n1, n2);
        n2 = n1 > budget ? n1 : std::max(n1, budget - n1);
        if (n1 + n2 > budget) {
            n1 = budget / 2;
            n2 = n1 + budget % 2;
        }
        if (swapped) std::swap(n1, n2);
        if (keep_tail) {
            a.keep_last(n1);
            b.keep_last(n2);
        } else {
            a.truncate(n1);
            b.truncate(n2);
        }
    }
    if (offsets && impl_->spec.trim_offsets) {
        impl_->trim_offsets(a_text, &a.tokens);
        impl_->trim_offsets(b_text, &b.tokens);
    }
    return assemble(impl_->spec.pair, &a.tokens, &b.tokens, offsets);
}

StatusOr<std::vector<int32_t>> XlmrTokenizer::encode_pair(std::string_view a, std::string_view b, int max_length,
                                                          bool keep_tail) const {
    BGE_ASSIGN_OR_RETURN(Encoding e, encode_pair_impl(a, b, max_length, false, keep_tail));
    return std::move(e.ids);
}

StatusOr<Encoding> XlmrTokenizer::encode_pair_with_offsets(std::string_view a, std::string_view b,
                                                           int max_length) const {
    return encode_pair_impl(a, b, max_length, true, false);
}

int32_t XlmrTokenizer::vocab_size() const {
    return impl_->vocab_size;
}

int XlmrTokenizer::n_special_single() const {
    return static_cast<int>(count_specials(impl_->spec.single));
}

int XlmrTokenizer::n_special_pair() const {
    return static_cast<int>(count_specials(impl_->spec.pair));
}

const std::string& XlmrTokenizer::description() const {
    return impl_->description;
}

}  // namespace bge
