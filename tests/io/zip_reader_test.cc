#include "io/zip_reader.h"

#include <gtest/gtest.h>

#include "io_test_util.h"

namespace bge::io {
namespace {

using test_util::failed_with;
using test_util::zip_bytes;

std::span<const uint8_t> span_of(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void put32(std::string& s, size_t at, uint32_t v) {
    for (int k = 0; k < 4; ++k) s[at + k] = static_cast<char>((v >> (8 * k)) & 0xFF);
}

// Entries are listed with their sizes and their data found in place, with and without torch's alignment padding.
TEST(ZipReader, ListsAndLocatesEntries) {
    for (size_t align : {0, 64}) {
        std::string zip = zip_bytes({{"p/a", "hello"}, {"p/b", ""}}, {.align = align});
        auto r = ZipReader::open(span_of(zip));
        ASSERT_TRUE(r.ok()) << r.status().to_string();
        ASSERT_EQ(r->entries().size(), 2u);
        const ZipEntry* a = r->find("p/a");
        ASSERT_NE(a, nullptr);
        EXPECT_EQ(a->size, 5u);
        auto data = r->stored_data(*a);
        ASSERT_TRUE(data.ok()) << data.status().to_string();
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(data->data()), data->size()), "hello");
        EXPECT_GE(data->data(), span_of(zip).data());
        if (align) {
            EXPECT_EQ((data->data() - span_of(zip).data()) % 64, 0);
        }
        EXPECT_TRUE(r->stored_data(*r->find("p/b")).ok());
        EXPECT_EQ(r->find("p/c"), nullptr);
    }
}

// ZIP64: saturated 32-bit fields are replaced by the extra field and end-of-directory records.
TEST(ZipReader, Zip64Records) {
    std::string zip = zip_bytes({{"x/data.pkl", "abc"}, {"x/data/0", "0123456789"}}, {.zip64 = true});
    auto r = ZipReader::open(span_of(zip));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    ASSERT_EQ(r->entries().size(), 2u);
    EXPECT_EQ(r->entries()[1].size, 10u);
    EXPECT_EQ(r->entries()[1].compressed_size, 10u);
    auto data = r->stored_data(r->entries()[1]);
    ASSERT_TRUE(data.ok()) << data.status().to_string();
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(data->data()), data->size()), "0123456789");
}

// Bytes that are not a zip, or whose directory lies outside the file.
TEST(ZipReader, NotAZip) {
    EXPECT_TRUE(failed_with(ZipReader::open(span_of("PK")).status(), StatusCode::kDataLoss, {"too small"}));
    EXPECT_TRUE(failed_with(ZipReader::open(span_of(std::string(100, 'x'))).status(), StatusCode::kDataLoss,
                            {"no end of central directory"}));
    std::string zip = zip_bytes({{"a", "1"}});
    put32(zip, zip.size() - 6, 1000);  // central directory offset
    EXPECT_TRUE(failed_with(ZipReader::open(span_of(zip)).status(), StatusCode::kDataLoss, {"outside the file"}));
    zip = zip_bytes({{"a", "1"}});
    zip[zip.size() - 12] = 9;  // total entries
    EXPECT_TRUE(failed_with(ZipReader::open(span_of(zip)).status(), StatusCode::kDataLoss, {"claims 9 entries"}));
}

// Saturated 32-bit fields with neither a ZIP64 locator nor a ZIP64 extra field.
TEST(ZipReader, MissingZip64Records) {
    std::string zip = zip_bytes({{"a", "1"}});
    put32(zip, zip.size() - 6, 0xFFFFFFFF);
    EXPECT_TRUE(failed_with(ZipReader::open(span_of(zip)).status(), StatusCode::kDataLoss, {"no ZIP64 locator"}));
    zip = zip_bytes({{"a", "1"}});
    size_t central = zip.find("PK\x01\x02");
    put32(zip, central + 24, 0xFFFFFFFF);  // uncompressed size
    EXPECT_TRUE(failed_with(ZipReader::open(span_of(zip)).status(), StatusCode::kDataLoss,
                            {"entry 'a'", "no ZIP64 extra field"}));
}

// A bad local header offset, a mismatching local name, data past the end, duplicate names, encryption.
TEST(ZipReader, BadEntries) {
    std::string zip = zip_bytes({{"a", "1"}, {"b", "2"}});
    size_t central = zip.find("PK\x01\x02");
    put32(zip, central + 42, 7);  // local header offset of "a"
    auto r = ZipReader::open(span_of(zip));
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(failed_with(r->stored_data(*r->find("a")).status(), StatusCode::kDataLoss,
                            {"entry 'a'", "no local header at byte 7"}));
    put32(zip, central + 42, 32);  // "b"'s local header
    r = ZipReader::open(span_of(zip));
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(
        failed_with(r->stored_data(*r->find("a")).status(), StatusCode::kDataLoss, {"names a different entry"}));

    zip = zip_bytes({{"a", "1"}});
    central = zip.find("PK\x01\x02");
    put32(zip, central + 20, 500);
    put32(zip, central + 24, 500);
    r = ZipReader::open(span_of(zip));
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(failed_with(r->stored_data(*r->find("a")).status(), StatusCode::kDataLoss, {"runs past the end"}));

    EXPECT_TRUE(failed_with(ZipReader::open(span_of(zip_bytes({{"a", "1"}, {"a", "2"}}))).status(),
                            StatusCode::kDataLoss, {"duplicate entry name 'a'"}));

    zip = zip_bytes({{"a", "1"}});
    zip[zip.find("PK\x01\x02") + 8] = 1;  // encrypted flag
    r = ZipReader::open(span_of(zip));
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(failed_with(r->stored_data(*r->find("a")).status(), StatusCode::kUnimplemented, {"encrypted"}));
}

}  // namespace
}  // namespace bge::io
