#include "io/mapped_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>

#include "io_test_util.h"

namespace bge::io {
namespace {

using test_util::TempDir;

// The mapping holds exactly the file's bytes.
TEST(MappedFile, MapsContents) {
    TempDir dir;
    std::string path = dir.write("a.bin", std::string("hello\0world", 11));
    auto f = MappedFile::open(path);
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    ASSERT_EQ((*f)->size(), 11u);
    EXPECT_EQ(std::memcmp((*f)->data(), "hello\0world", 11), 0);
    EXPECT_EQ((*f)->path(), path);
}

// An empty file maps to size 0 and a null pointer.
TEST(MappedFile, EmptyFile) {
    TempDir dir;
    auto f = MappedFile::open(dir.write("empty", ""));
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    EXPECT_EQ((*f)->size(), 0u);
    EXPECT_EQ((*f)->data(), nullptr);
}

// The mapping stays readable after the file is deleted (the descriptor is closed, the pages are not).
TEST(MappedFile, OutlivesUnlink) {
    TempDir dir;
    std::string path = dir.write("gone", "abc");
    auto f = MappedFile::open(path);
    ASSERT_TRUE(f.ok());
    std::filesystem::remove(path);
    EXPECT_EQ(std::memcmp((*f)->data(), "abc", 3), 0);
}

// A missing file is kNotFound naming the path.
TEST(MappedFile, MissingIsNotFound) {
    TempDir dir;
    std::string path = dir.path() + "/nope.bin";
    auto f = MappedFile::open(path);
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.status().code(), StatusCode::kNotFound);
    EXPECT_NE(f.status().message().find(path), std::string::npos);
}

// A directory is kInvalidArgument naming the path.
TEST(MappedFile, DirectoryIsInvalidArgument) {
    TempDir dir;
    auto f = MappedFile::open(dir.path());
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(f.status().message().find("directory"), std::string::npos);
}

// A FIFO or a device is refused at once, naming what it is: opening never waits for a writer.
TEST(MappedFile, FifoAndDevicesAreRefusedWithoutBlocking) {
    TempDir dir;
    const std::string fifo = dir.path() + "/fifo";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    const std::string link = dir.path() + "/zero";
    std::filesystem::create_symlink("/dev/zero", link);
    for (const auto& [path, kind] :
         {std::pair<std::string, std::string>{fifo, "a FIFO"}, {link, "a character device"}}) {
        auto f = MappedFile::open(path);
        ASSERT_FALSE(f.ok());
        EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
        EXPECT_EQ(f.status().message(), path + ": is " + kind + ", not a regular file");
    }
}

}  // namespace
}  // namespace bge::io
