// The hub client's offline parts: model specs, huggingface_hub's environment variables, URLs, the cache layout
// and the choice of files. The network side is tests/hub (a fake hub on loopback).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "bge/hub.h"
#include "io/hub_cache.h"
#include "io/hub_env.h"
#include "io/hub_http.h"
#include "io/hub_select.h"
#include "support/temp_dir.h"

namespace bge::io {
namespace {

using testing::TempDir;

TEST(HubSpec, RepoIdsAndRevisions) {
    auto s = parse_model_spec("BAAI/bge-m3");
    ASSERT_TRUE(s.ok()) << s.status().message();
    EXPECT_FALSE(s->is_local);
    EXPECT_EQ(s->repo_id, "BAAI/bge-m3");
    EXPECT_EQ(s->revision, "main");
    s = parse_model_spec("BAAI/bge-reranker-v2-m3@refs/pr/1");
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->revision, "refs/pr/1");
    // Names the hub refuses, and revisions that would escape refs/.
    for (const char* bad :
         {"bge-m3", "a--b/c", "-a/b", "a/b.", "a/b/c", "a/b@", "a/b@../x", "a/b@x//y", "a/b c", "a/b@x y", "a/b@/x"}) {
        auto r = parse_model_spec(bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << bad;
    }
}

TEST(HubSpec, FoldersStayLocal) {
    TempDir dir;
    auto s = parse_model_spec(dir.path());
    ASSERT_TRUE(s.ok());
    EXPECT_TRUE(s->is_local);
    EXPECT_EQ(s->path, dir.path());
    // A path-looking spec that does not exist is a missing folder, never a repo id.
    auto missing = parse_model_spec("./no/such-folder");
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.status().message().find("model folder ./no/such-folder not found"), std::string::npos);
    // An existing folder wins over the repo-id reading of the same text.
    std::filesystem::create_directories(dir.path() + "/owner/name");
    const auto cwd = std::filesystem::current_path();
    std::filesystem::current_path(dir.path());
    auto local = parse_model_spec("owner/name");
    std::filesystem::current_path(cwd);
    ASSERT_TRUE(local.ok());
    EXPECT_TRUE(local->is_local);
}

// Sets environment variables for one test and restores them.
class ScopedEnv {
 public:
    explicit ScopedEnv(std::initializer_list<std::pair<const char*, const char*>> vars) {
        for (const char* name :
             {"HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_ENDPOINT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
              "HF_TOKEN_PATH", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "XDG_CACHE_HOME", "HOME"}) {
            const char* old = std::getenv(name);
            saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
            unsetenv(name);
        }
        for (const auto& [name, value] : vars) setenv(name, value, 1);
    }
    ~ScopedEnv() {
        for (const auto& [name, value] : saved_) {
            if (value) {
                setenv(name.c_str(), value->c_str(), 1);
            } else {
                unsetenv(name.c_str());
            }
        }
    }

 private:
    std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST(HubEnv, DefaultsAsHuggingfaceHub) {
    ScopedEnv env({{"HOME", "/home/u"}});
    auto e = hub_env_from_environment();
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->cache_dir, "/home/u/.cache/huggingface/hub");
    EXPECT_EQ(e->endpoint, "https://huggingface.co");
    EXPECT_EQ(e->token, "");
    EXPECT_FALSE(e->offline);
}

TEST(HubEnv, VariablesAndPrecedence) {
    {
        ScopedEnv env({{"HOME", "/h"},
                       {"XDG_CACHE_HOME", "/xdg"},
                       {"HF_ENDPOINT", "http://mirror:8080//"},
                       {"HF_HUB_OFFLINE", "yes"},
                       {"HF_TOKEN", " hf_abc\n"},
                       {"HUGGING_FACE_HUB_TOKEN", "hf_old"}});
        auto e = hub_env_from_environment();
        ASSERT_TRUE(e.ok());
        EXPECT_EQ(e->cache_dir, "/xdg/huggingface/hub");
        EXPECT_EQ(e->endpoint, "http://mirror:8080");
        EXPECT_TRUE(e->offline);
        EXPECT_EQ(e->token, "hf_abc");
        EXPECT_EQ(e->token_source, "HF_TOKEN");
    }
    {
        ScopedEnv env({{"HOME", "/h"},
                       {"HF_HOME", "~/hf"},
                       {"HUGGINGFACE_HUB_CACHE", "/legacy"},
                       {"HF_HUB_OFFLINE", "0"},
                       {"TRANSFORMERS_OFFLINE", "1"}});
        auto e = hub_env_from_environment();
        ASSERT_TRUE(e.ok());
        EXPECT_EQ(e->cache_dir, "/legacy");
        EXPECT_FALSE(e->offline);  // HF_HUB_OFFLINE is set, so TRANSFORMERS_OFFLINE is not read
    }
    {
        ScopedEnv env({{"HF_HUB_CACHE", "/new"}, {"HUGGINGFACE_HUB_CACHE", "/legacy"}});
        EXPECT_EQ(hub_env_from_environment()->cache_dir, "/new");
    }
}

TEST(HubEnv, TokenFile) {
    TempDir dir;
    dir.write("token", "hf_from_file\r\n");
    ScopedEnv env({{"HF_HOME", dir.path().c_str()}});
    auto e = hub_env_from_environment();
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->token, "hf_from_file");
    EXPECT_EQ(e->token_source, dir.path() + "/token");
    dir.write("token", std::string(100 << 10, 'x'));
    EXPECT_FALSE(hub_env_from_environment().ok());  // bounded
}

TEST(HubHttp, OriginsAndQuoting) {
    EXPECT_EQ(url_origin("http://127.0.0.1:8080/a/b?c"), "http://127.0.0.1:8080");
    EXPECT_EQ(url_origin("https://HuggingFace.co/BAAI/bge-m3"), "https://huggingface.co:443");
    EXPECT_NE(url_origin("https://cdn-lfs.huggingface.co/x"), url_origin("https://huggingface.co/x"));
    EXPECT_EQ(url_origin("not a url"), "");
    EXPECT_EQ(url_quote("refs/pr/1", false), "refs%2Fpr%2F1");
    EXPECT_EQ(url_quote("1_Pooling/config 1.json", true), "1_Pooling/config%201.json");
}

TEST(HubCache, Layout) {
    TempDir dir;
    RepoCache cache(dir.path(), "BAAI/bge-m3");
    EXPECT_EQ(cache.dir(), dir.path() + "/models--BAAI--bge-m3");
    EXPECT_EQ(cache.lock_path("ab12"), dir.path() + "/.locks/models--BAAI--bge-m3/ab12.lock");
    const std::string commit(40, 'c');
    ASSERT_TRUE(cache.link_pointer(commit, "1_Pooling/config.json", "ab12").ok());
    ASSERT_TRUE(cache.link_pointer(commit, "config.json", "ab12").ok());
    EXPECT_EQ(std::filesystem::read_symlink(cache.pointer_path(commit, "1_Pooling/config.json")),
              "../../../blobs/ab12");
    EXPECT_EQ(std::filesystem::read_symlink(cache.pointer_path(commit, "config.json")), "../../blobs/ab12");

    EXPECT_EQ(cache.read_ref("main"), std::nullopt);
    ASSERT_TRUE(cache.write_ref("refs/pr/1", commit).ok());
    EXPECT_EQ(cache.read_ref("refs/pr/1"), commit);
    EXPECT_EQ(testing::read_file(cache.dir() + "/refs/refs/pr/1"), commit);  // no newline, as huggingface_hub
    ASSERT_TRUE(cache.write_ref(commit, commit).ok());
    EXPECT_FALSE(std::filesystem::exists(cache.dir() + "/refs/" + commit));  // a commit needs no ref
}

TEST(HubCache, TreeRoundTrip) {
    TempDir dir;
    RepoCache cache(dir.path(), "o/n");
    TreeEntry lfs;
    lfs.path = "model.safetensors";
    lfs.size = 134;
    lfs.blob_id = std::string(40, 'b');
    lfs.lfs_sha256 = std::string(64, 'a');
    lfs.lfs_size = 1 << 20;
    lfs.xet_hash = "x1";
    TreeEntry plain;
    plain.path = "config.json";
    plain.size = 7;
    plain.blob_id = std::string(40, 'd');
    ASSERT_TRUE(cache.write_tree("c1", {lfs, plain}).ok());
    // huggingface_hub's format: paths sorted, json.dump(indent=1).
    EXPECT_EQ(testing::read_file(cache.dir() + "/trees/c1.json"),
              "{\n \"format_version\": 1,\n \"files\": {\n  \"config.json\": {\n   \"size\": 7,\n   \"blob_id\": \"" +
                  plain.blob_id + "\"\n  },\n  \"model.safetensors\": {\n   \"size\": 134,\n   \"blob_id\": \"" +
                  lfs.blob_id + "\",\n   \"lfs_sha256\": \"" + lfs.lfs_sha256 +
                  "\",\n   \"lfs_size\": 1048576,\n   \"xet_hash\": \"x1\"\n  }\n }\n}");
    auto back = cache.read_tree("c1");
    ASSERT_TRUE(back.has_value());
    ASSERT_EQ(back->size(), 2u);
    EXPECT_EQ((*back)[1].etag(), lfs.lfs_sha256);
    EXPECT_EQ((*back)[1].content_size(), 1 << 20);
    EXPECT_EQ((*back)[0].etag(), plain.blob_id);
    EXPECT_EQ(cache.read_tree("missing"), std::nullopt);
}

TEST(HubCache, UnsafeNamesAreRefused) {
    for (const char* ok : {"config.json", "1_Pooling/config.json", ".gitattributes", "a..b"}) {
        EXPECT_TRUE(is_safe_repo_path(ok)) << ok;
    }
    for (const char* bad : {"", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", "a\\b", "a/"}) {
        EXPECT_FALSE(is_safe_repo_path(bad)) << bad;
    }
    EXPECT_TRUE(is_hex_name(std::string(64, 'f')));
    EXPECT_FALSE(is_hex_name("../blobs"));
    EXPECT_FALSE(is_hex_name("ABC"));
    // A cached listing naming a path outside the snapshot is ignored (and fetched again), never followed.
    TempDir dir;
    RepoCache cache(dir.path(), "o/n");
    std::filesystem::create_directories(cache.dir() + "/trees");
    dir.write("models--o--n/trees/c.json",
              R"({"format_version": 1, "files": {"../../evil": {"size": 1, "blob_id": "ab"}}})");
    EXPECT_EQ(cache.read_tree("c"), std::nullopt);
}

// A listing with local files behind it, for select_files.
struct FakeRepo {
    TempDir dir;
    std::vector<TreeEntry> tree;
    void add(const std::string& path, const std::string& content = "{}") {
        std::filesystem::create_directories(std::filesystem::path(dir.path() + "/" + path).parent_path());
        dir.write(path, content);
        TreeEntry e;
        e.path = path;
        e.blob_id = std::string(40, 'a');
        tree.push_back(e);
    }
    StatusOr<std::vector<std::string>> select(const std::vector<std::string>& include = {}) {
        std::vector<std::string> asked;
        auto local = [&](const TreeEntry& e) -> StatusOr<std::string> { return dir.path() + "/" + e.path; };
        BGE_ASSIGN_OR_RETURN(auto picked, select_files(tree, include, "o/n", local));
        for (const TreeEntry* e : picked) asked.push_back(e->path);
        return asked;
    }
};

TEST(HubSelect, EngineFilesOnly) {
    FakeRepo repo;
    repo.add("config.json", R"({"model_type": "xlm-roberta"})");
    for (const char* f :
         {"tokenizer.json", "sentencepiece.bpe.model", "sparse_linear.pt", "colbert_linear.pt", "1_Pooling/config.json",
          "model.safetensors", "pytorch_model.bin", "README.md", "onnx/model.onnx"}) {
        repo.add(f);
    }
    auto picked = repo.select();
    ASSERT_TRUE(picked.ok()) << picked.status().message();
    EXPECT_EQ(*picked, (std::vector<std::string>{"config.json", "tokenizer.json", "sentencepiece.bpe.model",
                                                 "1_Pooling/config.json", "sparse_linear.pt", "colbert_linear.pt",
                                                 "model.safetensors"}));
}

TEST(HubSelect, ShardsThroughTheIndex) {
    FakeRepo repo;
    repo.add("config.json", R"({"model_type": "xlm-roberta"})");
    repo.add("model.safetensors.index.json", R"({"weight_map": {"a": "m-1.safetensors", "b": "m-2.safetensors"}})");
    repo.add("m-1.safetensors");
    auto missing = repo.select();
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.status().message().find("m-2.safetensors"), std::string::npos);
    repo.add("m-2.safetensors");
    auto picked = repo.select();
    ASSERT_TRUE(picked.ok());
    EXPECT_EQ(*picked, (std::vector<std::string>{"config.json", "model.safetensors.index.json", "m-1.safetensors",
                                                 "m-2.safetensors"}));
}

TEST(HubSelect, RefusesOtherModelsAndMissingWeights) {
    FakeRepo bert;
    bert.add("config.json", R"({"model_type": "bert"})");
    bert.add("model.safetensors");
    auto r = bert.select();
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("not an XLM-R embedder or reranker"), std::string::npos);
    FakeRepo bare;
    bare.add("config.json", R"({"model_type": "xlm-roberta"})");
    EXPECT_EQ(bare.select().status().code(), StatusCode::kNotFound);
    FakeRepo none;
    none.add("README.md");
    EXPECT_EQ(none.select().status().code(), StatusCode::kNotFound);
}

TEST(HubSelect, IncludePatterns) {
    FakeRepo repo;
    for (const char* f : {"config.json", "1_Pooling/config.json", "onnx/model.onnx", "model.safetensors"}) {
        repo.add(f);
    }
    auto json = repo.select({"*.json"});  // '*' crosses '/', as Python's fnmatch
    ASSERT_TRUE(json.ok());
    EXPECT_EQ(*json, (std::vector<std::string>{"config.json", "1_Pooling/config.json"}));
    auto folder = repo.select({"onnx/"});
    ASSERT_TRUE(folder.ok());
    EXPECT_EQ(*folder, (std::vector<std::string>{"onnx/model.onnx"}));
    EXPECT_EQ(repo.select({"*.bin"}).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace bge::io
