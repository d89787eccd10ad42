#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex.h"

#include <pcre2.h>

namespace bge {

struct Regex::Code {
    pcre2_code* code = nullptr;
    ~Code() { pcre2_code_free(code); }
};

namespace {

// One match data block per call: the compiled code is shared across threads, match data is not.
struct MatchData {
    explicit MatchData(const pcre2_code* code) : data(pcre2_match_data_create_from_pattern(code, nullptr)) {}
    ~MatchData() { pcre2_match_data_free(data); }
    MatchData(const MatchData&) = delete;
    MatchData& operator=(const MatchData&) = delete;
    pcre2_match_data* data;
};

}  // namespace

StatusOr<Regex> Regex::compile(const std::string& pattern) {
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    auto code = std::make_shared<Code>();
    code->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP,
                               &error, &error_offset, nullptr);
    if (code->code == nullptr) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error, message, sizeof message);
        return invalid_argument("regex '" + pattern + "': " + reinterpret_cast<const char*>(message) + " at offset " +
                                std::to_string(error_offset));
    }
    pcre2_jit_compile(code->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter when JIT is unavailable
    Regex r;
    r.code_ = std::move(code);
    return r;
}

std::vector<Regex::Match> Regex::find_all(std::string_view text) const {
    std::vector<Match> matches;
    MatchData md(code_->code);
    if (md.data == nullptr) return matches;
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t start = 0;
    while (start <= text.size()) {
        const int rc = pcre2_match(code_->code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, md.data, nullptr);
        if (rc < 0) break;
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.data);
        const size_t begin = ov[0], end = ov[1];
        if (end > begin) {
            matches.push_back({begin, end});
            start = end;
        } else {
            // An empty match: step over one character.
            if (begin >= text.size()) break;
            start = begin + 1;
            while (start < text.size() && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) ++start;
        }
    }
    return matches;
}

}  // namespace bge
