// --device lists: how they split into workers and which entries are refused.
#include "runtime/device.h"

#include <gtest/gtest.h>

namespace bge {
namespace {

std::vector<std::string> expand(const std::string& spec) {
    auto r = expand_devices(spec);
    EXPECT_TRUE(r.ok()) << spec << ": " << r.status().to_string();
    return r.ok() ? *r : std::vector<std::string>{};
}

TEST(DeviceTest, ListsSplitIntoOneWorkerPerEntry) {
    using V = std::vector<std::string>;
    EXPECT_EQ(expand("cpu"), V{"cpu"});
    EXPECT_EQ(expand("cuda:3"), V{"cuda:3"});
    EXPECT_EQ(expand("cuda:0,1"), (V{"cuda:0", "cuda:1"}));
    EXPECT_EQ(expand("cuda:0,1,cpu"), (V{"cuda:0", "cuda:1", "cpu"}));
    EXPECT_EQ(expand("cuda:1,cuda:0"), (V{"cuda:1", "cuda:0"}));
    EXPECT_EQ(expand("cpu,cpu"), (V{"cpu", "cpu"}));  // two workers on one device
    EXPECT_EQ(expand("cuda:0,0"), (V{"cuda:0", "cuda:0"}));
}

TEST(DeviceTest, BadEntriesAreNamed) {
    for (const std::string spec : {"gpu", "cpu,", ",cpu", "cuda:0,,1", "cpu,1", "cuda:-1", "cuda:x", "cuda:0,cpu:1"}) {
        auto r = expand_devices(spec);
        ASSERT_FALSE(r.ok()) << spec;
        EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << spec;
        EXPECT_NE(r.status().message().find("'" + spec + "'"), std::string::npos) << r.status().to_string();
        if (spec.find(',') != std::string::npos) {  // a list also names the entry
            EXPECT_NE(r.status().message().find("entry '"), std::string::npos) << r.status().to_string();
        }
    }
}

TEST(DeviceTest, DtypesAreOneForAllOrOnePerDevice) {
    using V = std::vector<std::string>;
    EXPECT_EQ(*expand_dtypes("", 2), (V{"", ""}));
    EXPECT_EQ(*expand_dtypes("bf16", 3), (V{"bf16", "bf16", "bf16"}));
    EXPECT_EQ(*expand_dtypes("fp16,bf16", 2), (V{"fp16", "bf16"}));
    EXPECT_EQ(*expand_dtypes("fp16,", 2), (V{"fp16", ""}));
    auto bad = expand_dtypes("fp16,bf16", 3);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(bad.status().message().find("2 dtypes for 3 devices"), std::string::npos) << bad.status().to_string();
}

TEST(DeviceTest, OneDeviceOutsideTheServingEngine) {
    EngineOptions o;
    o.device = "cpu,cpu";
    auto backend = make_backend(o);
    ASSERT_FALSE(backend.ok());
    EXPECT_EQ(backend.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(backend.status().message().find("bge serve"), std::string::npos);
}

}  // namespace
}  // namespace bge
