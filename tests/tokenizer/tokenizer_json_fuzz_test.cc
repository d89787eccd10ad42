// Mutated tokenizer.json files and random input bytes: every load and encode returns a Status or ids, never
// crashes (run under ASan/UBSan by scripts/test).
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "support/temp_dir.h"
#include "tokenizer/xlmr_tokenizer.h"

namespace bge {
namespace {

TEST(TokenizerJsonFuzz, MutatedFilesLoadOrFailCleanly) {
    const std::string base = testing::read_file(std::string(BGE_TEST_DIR) + "/golden/m3/tokenizer.json");
    // Mutations land in the pipeline sections, the vocabulary and the charsmap alike.
    const size_t charsmap = base.find("precompiled_charsmap");
    ASSERT_NE(charsmap, std::string::npos);
    testing::TempDir dir;
    std::mt19937 rng(11);
    const std::string alphabet = "{}[]\",:0123456789-.eE truefalsn\\u00e9\xE2\x96\x81 <>/";
    int loaded = 0;
    for (int i = 0; i < 120; ++i) {
        std::string doc = base;
        const int n_edits = 1 + static_cast<int>(rng() % 4);
        for (int k = 0; k < n_edits; ++k) {
            // A third of the edits near the charsmap's start, the rest anywhere.
            const size_t pos = k % 3 == 0 ? charsmap + rng() % 400 : rng() % doc.size();
            const char c = alphabet[rng() % alphabet.size()];
            switch (rng() % 3) {
                case 0:
                    doc[pos % doc.size()] = c;
                    break;
                case 1:
                    doc.erase(pos % doc.size(), 1 + rng() % 8);
                    break;
                default:
                    doc.insert(pos % doc.size(), 1, c);
            }
        }
        auto t = XlmrTokenizer::load_json(dir.write("t.json", doc));
        if (!t.ok()) {
            EXPECT_FALSE(t.status().message().empty());
            continue;
        }
        ++loaded;
        for (const char* text : {"Hello world", "<s> \u00e9t\u00e9 <mask>", "\uFF21\u0301  x\u200d", ""}) {
            (void)(*t)->encode_single(text, 16);
            (void)(*t)->encode_pair_with_offsets(text, "y", 9);
        }
    }
    EXPECT_GT(loaded, 0);  // some mutations keep the file valid, so encoding is exercised too
}

TEST(TokenizerJsonFuzz, RandomBytesEncodeOrFailCleanly) {
    auto t = XlmrTokenizer::load_json(std::string(BGE_TEST_DIR) + "/golden/m3/tokenizer.json");
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    std::mt19937 rng(5);
    for (int i = 0; i < 3000; ++i) {
        std::string text(rng() % 64, '\0');
        for (char& c : text)
            c = static_cast<char>(rng() % 4 == 0 ? rng() % 256 : "a <s>\xE2\x96\x81\xC3\xA9"[rng() % 9]);
        StatusOr<Encoding> e = (*t)->encode_single_with_offsets(text, 1 + static_cast<int>(rng() % 40));
        if (!e.ok()) continue;
        for (const Span& s : e->offsets) {
            EXPECT_LE(s.start, s.end);
            EXPECT_LE(s.end, text.size());
        }
    }
}

}  // namespace
}  // namespace bge
