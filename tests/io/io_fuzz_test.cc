// Mutation fuzzing of the checkpoint readers: valid files with bytes flipped, overwritten, inserted,
// deleted or cut must give either an error or tensors whose views lie inside the file. Each test runs
// for BGE_FUZZ_SECONDS (default 3) and at least kMinIterations; iteration i uses the generator seeded
// with BGE_FUZZ_SEED (default 0x5eed) + i, so a failure report names a reproducible case.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <random>

#include "io/tensor_file.h"
#include "io/unpickler.h"
#include "io/zip_reader.h"
#include "io_test_util.h"
#include "support/fuzz_env.h"

namespace bge::io {
namespace {

using test_util::TempDir;

constexpr int kMinIterations = 200;
const std::string kDataDir = std::string(BGE_TEST_DIR) + "/io/data/";

double fuzz_seconds() {
    return testing::fuzz_seconds(3.0);
}

std::string mutate(const std::string& in, std::mt19937_64& rng) {
    static constexpr uint64_t kInteresting[] = {
        0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0xffffffff, 0xffffffffffffffff, 0x8000000000000000, 100'000'001};
    std::string s = in;
    auto pick = [&rng](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
    int n_mutations = 1 + static_cast<int>(rng() % 4);
    for (int m = 0; m < n_mutations; ++m) {
        switch (rng() % 7) {
            case 0:  // flip one bit
                if (!s.empty()) {
                    size_t at = pick(s.size());
                    s[at] = static_cast<char>(static_cast<uint8_t>(s[at]) ^ (1u << (rng() % 8)));
                }
                break;
            case 1:  // random byte
                if (!s.empty()) s[pick(s.size())] = static_cast<char>(rng());
                break;
            case 2: {  // an interesting little-endian integer over 1, 2, 4 or 8 bytes
                size_t width = size_t{1} << (rng() % 4);
                if (s.size() < width) break;
                size_t at = pick(s.size() - width + 1);
                uint64_t v = kInteresting[pick(std::size(kInteresting))];
                for (size_t k = 0; k < width; ++k) s[at + k] = static_cast<char>(v >> (8 * k));
                break;
            }
            case 3: {  // insert random bytes
                std::string extra(1 + pick(16), '\0');
                for (char& c : extra) c = static_cast<char>(rng());
                s.insert(pick(s.size() + 1), extra);
                break;
            }
            case 4: {  // delete a range
                size_t at = pick(s.size() + 1);
                s.erase(at, 1 + pick(16));
                break;
            }
            case 5:  // truncate
                s.resize(pick(s.size() + 1));
                break;
            case 6: {  // duplicate a range elsewhere
                size_t at = pick(s.size() + 1);
                std::string chunk = s.substr(at, 1 + pick(32));
                s.insert(pick(s.size() + 1), chunk);
                break;
            }
        }
    }
    return s;
}

// Runs `check(input, iteration)` on mutations of `seeds` until the time budget and the minimum count are spent.
template <typename Check>
void fuzz(const char* what, const std::vector<std::string>& seeds, Check check) {
    const uint64_t seed = testing::fuzz_seed();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(fuzz_seconds());
    int64_t i = 0;
    int64_t n_ok = 0;
    for (; i < kMinIterations || std::chrono::steady_clock::now() < deadline; ++i) {
        std::mt19937_64 rng(seed + static_cast<uint64_t>(i));
        std::string input = mutate(seeds[static_cast<size_t>(i) % seeds.size()], rng);
        n_ok += check(input, i) ? 1 : 0;
        if (::testing::Test::HasFatalFailure()) break;
    }
    std::printf("%s: seed %#llx, %lld iterations, %lld read without error\n", what,
                static_cast<unsigned long long>(seed), static_cast<long long>(i), static_cast<long long>(n_ok));
}

// Every view must lie inside its file's mapping and match its shape; reading all bytes must not fault.
void expect_in_bounds(const TensorMap& tensors, int64_t i) {
    for (const auto& [name, t] : tensors) {
        ASSERT_TRUE(t.dtype == DType::kF32 || t.dtype == DType::kF16 || t.dtype == DType::kBF16 ||
                    t.dtype == DType::kI64 || t.dtype == DType::kI32)
            << name << " #" << i;
        int64_t numel = 1;
        for (int64_t d : t.shape) {
            ASSERT_GE(d, 0) << name << " #" << i;
            ASSERT_FALSE(__builtin_mul_overflow(numel, d, &numel)) << name << " #" << i;
        }
        ASSERT_EQ(t.nbytes, static_cast<uint64_t>(numel) * dtype_size(t.dtype)) << name << " #" << i;
        auto* p = static_cast<const uint8_t*>(t.data);
        const uint8_t* begin = t.file->data();
        ASSERT_TRUE(t.nbytes == 0 || (p >= begin && t.nbytes <= t.file->size() - static_cast<size_t>(p - begin)))
            << name << " #" << i;
        volatile uint8_t sum = 0;
        for (size_t k = 0; k < t.nbytes; ++k) sum = static_cast<uint8_t>(sum + p[k]);
    }
}

void fuzz_files(const char* what, const std::vector<std::string>& seeds) {
    TempDir dir;
    fuzz(what, seeds, [&dir](const std::string& input, int64_t i) {
        auto r = read_tensor_file(dir.write("input", input));
        if (!r.ok()) return false;
        expect_in_bounds(*r, i);
        return true;
    });
}

std::string data_pkl(const std::string& zip_path) {
    std::string zip = test_util::read_file(zip_path);
    auto r = ZipReader::open({reinterpret_cast<const uint8_t*>(zip.data()), zip.size()});
    if (!r.ok()) {
        ADD_FAILURE() << r.status().to_string();
        return {};
    }
    for (const ZipEntry& e : r->entries()) {
        if (e.name.ends_with("/data.pkl")) {
            auto d = r->stored_data(e);
            if (!d.ok()) break;
            return {reinterpret_cast<const char*>(d->data()), d->size()};
        }
    }
    ADD_FAILURE() << "no data.pkl in " << zip_path;
    return {};
}

// The safetensors reader on mutated real and hand-written files.
TEST(IoFuzz, SafetensorsMutations) {
    std::string hand = test_util::safetensors_bytes(
        R"({"__metadata__":{"k":"v"},"a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},)"
        R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
        std::string(12, '\x3c'));
    fuzz_files("safetensors", {test_util::read_file(kDataDir + "dtypes.safetensors"),
                               test_util::read_file(kDataDir + "int_buffers.safetensors"), hand});
}

// The torch reader (zip + unpickler) on mutated real torch.save files and a ZIP64 hand-written one.
TEST(IoFuzz, TorchCheckpointMutations) {
    std::string zip64 = test_util::torch_zip(
        "z", test_util::state_dict_pickle({{.name = "w", .storage_numel = 4, .offset = 1, .size = {3}, .stride = {1}}}),
        {{"0", test_util::f32_bytes({1, 2, 3, 4})}}, /*zip64=*/true);
    fuzz_files("torch", {test_util::read_file(kDataDir + "torch_dtypes.pt"),
                         test_util::read_file(kDataDir + "linear_archive_prefix.pt"),
                         test_util::read_file(kDataDir + "int_buffers.pt"), zip64});
}

// The unpickler alone, on heap copies of exactly the input's size (so ASan sees any overread).
TEST(IoFuzz, PickleMutations) {
    std::vector<std::string> seeds = {data_pkl(kDataDir + "torch_dtypes.pt"),
                                      data_pkl(kDataDir + "linear_archive_prefix.pt"),
                                      data_pkl(kDataDir + "int_buffers.pt")};
    fuzz("pickle", seeds, [](const std::string& input, int64_t i) {
        std::vector<uint8_t> bytes(input.begin(), input.end());
        auto r = unpickle_state_dict(bytes);
        if (!r.ok()) return false;
        for (const PickledTensor& t : *r) {
            int64_t numel = 1;
            for (int64_t d : t.shape) EXPECT_FALSE(d < 0 || __builtin_mul_overflow(numel, d, &numel)) << "#" << i;
            EXPECT_TRUE(t.storage_offset >= 0 && numel <= t.storage_numel - t.storage_offset) << "#" << i;
        }
        return true;
    });
}

// The zip reader alone, on heap copies: every located entry lies inside the buffer.
TEST(IoFuzz, ZipMutations) {
    std::vector<std::string> seeds = {
        test_util::read_file(kDataDir + "torch_dtypes.pt"),
        test_util::zip_bytes({{"a/data.pkl", "xyz"}, {"a/data/0", "0123"}}, {.zip64 = true})};
    fuzz("zip", seeds, [](const std::string& input, int64_t i) {
        std::vector<uint8_t> bytes(input.begin(), input.end());
        auto r = ZipReader::open(bytes);
        if (!r.ok()) return false;
        for (const ZipEntry& e : r->entries()) {
            auto d = r->stored_data(e);
            if (!d.ok()) continue;
            EXPECT_TRUE(d->empty() ||
                        (d->data() >= bytes.data() && d->data() + d->size() <= bytes.data() + bytes.size()))
                << "#" << i;
        }
        return true;
    });
}

}  // namespace
}  // namespace bge::io
