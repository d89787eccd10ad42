#include "io/unpickler.h"

#include <gtest/gtest.h>

#include "io_test_util.h"

namespace bge::io {
namespace {

using test_util::failed_with;
using test_util::PickleWriter;

StatusOr<std::vector<PickledTensor>> unpickle(const std::string& bytes) {
    return unpickle_state_dict({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
}

Status unpickle_status(const PickleWriter& p) {
    return unpickle(p.bytes()).status();
}

// The hand-written torch.save form yields each tensor's storage dtype, key, offset and shape.
TEST(Unpickler, ReadsStateDict) {
    auto r = unpickle(test_util::state_dict_pickle(
        {{.name = "a",
          .storage_type = "HalfStorage",
          .key = "3",
          .storage_numel = 70000,
          .offset = 300,
          .size = {2, 3},
          .stride = {3, 1}},
         {.name = "b", .storage_type = "BFloat16Storage", .key = "k", .storage_numel = 1, .size = {}, .stride = {}},
         {.name = "c", .storage_type = "LongStorage", .key = "1", .storage_numel = 8, .size = {1, 8}, .stride = {8, 1}},
         {.name = "d", .storage_type = "IntStorage", .key = "2", .storage_numel = 2, .size = {2}, .stride = {1}}}));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    ASSERT_EQ(r->size(), 4u);
    const PickledTensor& a = (*r)[0];
    EXPECT_EQ(a.name, "a");
    EXPECT_EQ(a.dtype, DType::kF16);
    EXPECT_EQ(a.storage_key, "3");
    EXPECT_EQ(a.storage_numel, 70000);
    EXPECT_EQ(a.storage_offset, 300);
    EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ((*r)[1].dtype, DType::kBF16);
    EXPECT_TRUE((*r)[1].shape.empty());
    EXPECT_EQ((*r)[2].dtype, DType::kI64);
    EXPECT_EQ((*r)[2].shape, (std::vector<int64_t>{1, 8}));
    EXPECT_EQ((*r)[3].dtype, DType::kI32);
}

// Protocol-4 forms (FRAME, SHORT_BINUNICODE, STACK_GLOBAL, MEMOIZE), LONG1 / BININT2 / BININT
// integers, and an OrderedDict whose BUILD state holds a list with None, a float and a bool.
TEST(Unpickler, ReadsProtocol4AndOrderedDictState) {
    PickleWriter p;
    auto short_str = [&p](const std::string& s) -> PickleWriter& {
        return p.op(0x8c).op(static_cast<uint8_t>(s.size())).raw(s);
    };
    p.proto(4).op(0x95).raw(std::string(8, '\0'));
    short_str("collections");
    short_str("OrderedDict").op(0x93).op(0x94).op(')').op('R').op(0x94);  // memo 0: OrderedDict, 1: the dict
    short_str("t");
    short_str("torch._utils");
    short_str("_rebuild_tensor_v2").op(0x93).mark();
    p.mark();
    short_str("storage");
    short_str("torch");
    short_str("FloatStorage").op(0x93);
    short_str("0");
    short_str("cpu").op(0x8a).op(3).raw(std::string("\x80\x84\x1e", 3)).op('t').op('Q');  // LONG1 2000000
    p.op('M').raw(std::string("\x10\x27", 2));                                            // BININT2 10000
    p.op('J').raw(std::string("\x40\x42\x0f\x00", 4)).op(0x85);                           // (1000000,)
    p.op('K').op(1).op(0x85).op(0x88).op('h').op(0).op(')').op('R').op('t').op('R').op('s');
    p.op('}').str("_metadata").op(']').mark().op('N').op('G').raw(std::string("\x3f\xf8\0\0\0\0\0\0", 8));
    p.op(0x88).op('e').op('s').op('b').stop();
    auto r = unpickle(p.bytes());
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ((*r)[0].name, "t");
    EXPECT_EQ((*r)[0].storage_numel, 2000000);
    EXPECT_EQ((*r)[0].storage_offset, 10000);
    EXPECT_EQ((*r)[0].shape, (std::vector<int64_t>{1000000}));
}

// Any global outside the allow-list is refused by name and offset, whether by GLOBAL or STACK_GLOBAL.
TEST(Unpickler, ForbiddenGlobals) {
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().global("builtins", "eval")),
                            StatusCode::kUnimplemented, {"byte 2", "'builtins.eval' is not allowed"}));
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().op('}').global("__builtin__", "getattr")),
                            StatusCode::kUnimplemented, {"byte 3", "'__builtin__.getattr'"}));
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto(4).str("os").str("system").op(0x93)),
                            StatusCode::kUnimplemented, {"byte 20", "STACK_GLOBAL", "'os.system'"}));
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().global("torch._utils", "_rebuild_parameter")),
                            StatusCode::kUnimplemented, {"_rebuild_parameter"}));
    // Storage types stay limited to Float/Half/BFloat16/Long/Int, and the message lists them.
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().global("torch", "DoubleStorage")),
                            StatusCode::kUnimplemented,
                            {"'torch.DoubleStorage' is not allowed", "torch.{Float,Half,BFloat16,Long,Int}Storage"}));
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().global("torch", "LongTensor")),
                            StatusCode::kUnimplemented, {"'torch.LongTensor'"}));
    // Control bytes in the name are escaped in the message.
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().global("os\x01", "x")), StatusCode::kUnimplemented,
                            {"'os\\x01.x'"}));
}

// Opcodes outside the state-dict subset, known or not, are refused by name or hex and offset.
TEST(Unpickler, UnknownAndUnsupportedOpcodes) {
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().op(0xff)), StatusCode::kUnimplemented,
                            {"byte 2", "opcode 0xff", "unknown opcode"}));
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().op('}').op('i')), StatusCode::kUnimplemented,
                            {"byte 3", "(INST)", "not supported"}));
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto(6)), StatusCode::kUnimplemented, {"protocol 6"}));
}

// Stack underflow, including popping below a MARK, is kDataLoss naming the opcode and offset.
TEST(Unpickler, StackUnderflow) {
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().op(0x86)), StatusCode::kDataLoss,
                            {"byte 2", "TUPLE2", "stack underflow"}));
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().op('}').mark().op('K').op(1).op('s')),
                            StatusCode::kDataLoss, {"byte 6", "SETITEM", "stack underflow"}));
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().op('R')), StatusCode::kDataLoss, {"REDUCE"}));
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().op('t')), StatusCode::kDataLoss, {"no MARK"}));
    EXPECT_TRUE(
        failed_with(unpickle_status(PickleWriter().proto().stop()), StatusCode::kDataLoss, {"STOP", "underflow"}));
}

// Truncated operands and a missing STOP are kDataLoss.
TEST(Unpickler, Truncation) {
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().op('}')), StatusCode::kDataLoss,
                            {"ends at byte 3 without STOP"}));
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().op('X').raw(std::string("\x05\0\0\0ab", 6))),
                            StatusCode::kDataLoss, {"BINUNICODE", "truncated"}));
    EXPECT_TRUE(
        failed_with(unpickle_status(PickleWriter().proto().op('J').raw("ab")), StatusCode::kDataLoss, {"truncated"}));
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().raw("cos\nsys")), StatusCode::kDataLoss,
                            {"GLOBAL", "no newline"}));
}

// Malformed values: bad memo keys, wide integers, wrong argument types, non-dict roots, duplicate keys.
TEST(Unpickler, MalformedValues) {
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().op('h').op(9)), StatusCode::kDataLoss,
                            {"BINGET", "memo key 9"}));
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().op(0x8a).op(9).raw(std::string(9, '\1'))),
                            StatusCode::kUnimplemented, {"wider than 64 bits"}));
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().op(']').op(')').op('R')), StatusCode::kDataLoss,
                            {"calls a list"}));
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().op(']').stop()), StatusCode::kDataLoss,
                            {"holds a list, not a dict"}));
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().global("torch", "FloatStorage").op(')').op('R')),
                            StatusCode::kUnimplemented, {"cannot be called"}));
    EXPECT_TRUE(failed_with(
        unpickle_status(PickleWriter().proto().global("torch._utils", "_rebuild_tensor_v2").op(')').op('R')),
        StatusCode::kDataLoss, {"6 or 7 arguments, got 0"}));
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().op('}').op('K').op(1).op('K').op(2).op('s').stop()),
                            StatusCode::kDataLoss, {"key 0 is a int"}));
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().mark().str("x").op('Q')), StatusCode::kDataLoss,
                            {"BINPERSID", "persistent id"}));
    // Negative storage offset, via a LONG1 of -1.
    std::string neg =
        test_util::state_dict_pickle({{.name = "w", .storage_numel = 4, .offset = 1, .size = {1}, .stride = {1}}});
    size_t at = neg.find("Q\x4b\x01");
    ASSERT_NE(at, std::string::npos);
    neg.replace(at + 1, 2, std::string("\x8a\x01\xff", 3));
    EXPECT_TRUE(failed_with(unpickle(neg).status(), StatusCode::kDataLoss, {"offset is not an int >= 0"}));
    std::string dup = test_util::state_dict_pickle({{.name = "w", .storage_numel = 1, .size = {1}, .stride = {1}},
                                                    {.name = "w", .storage_numel = 1, .size = {1}, .stride = {1}}});
    EXPECT_TRUE(failed_with(unpickle(dup).status(), StatusCode::kDataLoss, {"'w' appears twice"}));
}

// Garbage cannot allocate without bound: string length, MARK depth, stack depth and object count are capped.
TEST(Unpickler, Bounds) {
    EXPECT_TRUE(failed_with(unpickle_status(PickleWriter().proto().op(0x8d).raw(std::string("\0\0\0\0\0\0\0\x40", 8))),
                            StatusCode::kDataLoss, {"too long"}));
    EXPECT_TRUE(failed_with(unpickle(std::string("\x80\x02") + std::string((1 << 12) + 1, '(')).status(),
                            StatusCode::kDataLoss, {"open MARKs"}));
    EXPECT_TRUE(failed_with(unpickle(std::string("\x80\x02") + std::string((1 << 16) + 1, ')')).status(),
                            StatusCode::kDataLoss, {"stack deeper"}));
    EXPECT_TRUE(failed_with(unpickle(std::string("\x80\x02)") + std::string(1 << 18, '\x85')).status(),
                            StatusCode::kDataLoss, {"objects"}));
}

// A dict that contains itself is handled without leaking (checked under ASan) and rejected as a root.
TEST(Unpickler, SelfReferenceDoesNotLeak) {
    EXPECT_TRUE(failed_with(
        unpickle_status(PickleWriter().proto().op('}').op('q').op(0).op('h').op(0).op('h').op(0).op('s').stop()),
        StatusCode::kDataLoss, {"key 0 is a dict"}));
}

}  // namespace
}  // namespace bge::io
