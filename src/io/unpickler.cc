#include "io/unpickler.h"

#include <bit>
#include <deque>
#include <set>
#include <string_view>
#include <unordered_map>

#include "io/le_bytes.h"

namespace bge::io {

namespace {

// Bounds that keep a hostile pickle from exhausting memory. A BGE-M3 state dict (~400 tensors)
// needs about 5k objects, a stack of ~20 and a memo of ~3k; Python's pickler pushes at most 1000
// items per SETITEMS/APPENDS batch.
constexpr size_t kMaxObjects = size_t{1} << 18;
constexpr size_t kMaxStack = size_t{1} << 16;
constexpr size_t kMaxMarks = size_t{1} << 12;
constexpr size_t kMaxMemo = size_t{1} << 18;
constexpr size_t kMaxString = size_t{1} << 20;
constexpr size_t kMaxGlobalLine = 256;
constexpr int kMaxProtocol = 5;

// Opcodes, as Python's Lib/pickle.py names them.
enum Op : uint8_t {
    kMark = '(',
    kStop = '.',
    kBinFloat = 'G',
    kBinInt = 'J',
    kBinInt1 = 'K',
    kBinInt2 = 'M',
    kNone = 'N',
    kBinPersId = 'Q',
    kReduce = 'R',
    kBinUnicode = 'X',
    kAppend = 'a',
    kBuild = 'b',
    kGlobal = 'c',
    kAppends = 'e',
    kBinGet = 'h',
    kLongBinGet = 'j',
    kBinPut = 'q',
    kLongBinPut = 'r',
    kSetItem = 's',
    kTuple = 't',
    kSetItems = 'u',
    kEmptyDict = '}',
    kEmptyList = ']',
    kEmptyTuple = ')',
    kProto = 0x80,
    kTuple1 = 0x85,
    kTuple2 = 0x86,
    kTuple3 = 0x87,
    kNewTrue = 0x88,
    kNewFalse = 0x89,
    kLong1 = 0x8a,
    kShortBinUnicode = 0x8c,
    kBinUnicode8 = 0x8d,
    kStackGlobal = 0x93,
    kMemoize = 0x94,
    kFrame = 0x95,
};

// Names of every opcode of protocols 0-5, so that refusals say what they refused.
const char* opcode_name(uint8_t op) {
    switch (op) {
        case '(':
            return "MARK";
        case '.':
            return "STOP";
        case '0':
            return "POP";
        case '1':
            return "POP_MARK";
        case '2':
            return "DUP";
        case 'F':
            return "FLOAT";
        case 'I':
            return "INT";
        case 'J':
            return "BININT";
        case 'K':
            return "BININT1";
        case 'L':
            return "LONG";
        case 'M':
            return "BININT2";
        case 'N':
            return "NONE";
        case 'P':
            return "PERSID";
        case 'Q':
            return "BINPERSID";
        case 'R':
            return "REDUCE";
        case 'S':
            return "STRING";
        case 'T':
            return "BINSTRING";
        case 'U':
            return "SHORT_BINSTRING";
        case 'V':
            return "UNICODE";
        case 'X':
            return "BINUNICODE";
        case 'a':
            return "APPEND";
        case 'b':
            return "BUILD";
        case 'c':
            return "GLOBAL";
        case 'd':
            return "DICT";
        case '}':
            return "EMPTY_DICT";
        case 'e':
            return "APPENDS";
        case 'g':
            return "GET";
        case 'h':
            return "BINGET";
        case 'i':
            return "INST";
        case 'j':
            return "LONG_BINGET";
        case 'l':
            return "LIST";
        case ']':
            return "EMPTY_LIST";
        case 'o':
            return "OBJ";
        case 'p':
            return "PUT";
        case 'q':
            return "BINPUT";
        case 'r':
            return "LONG_BINPUT";
        case 's':
            return "SETITEM";
        case 't':
            return "TUPLE";
        case ')':
            return "EMPTY_TUPLE";
        case 'u':
            return "SETITEMS";
        case 'G':
            return "BINFLOAT";
        case 0x80:
            return "PROTO";
        case 0x81:
            return "NEWOBJ";
        case 0x82:
            return "EXT1";
        case 0x83:
            return "EXT2";
        case 0x84:
            return "EXT4";
        case 0x85:
            return "TUPLE1";
        case 0x86:
            return "TUPLE2";
        case 0x87:
            return "TUPLE3";
        case 0x88:
            return "NEWTRUE";
        case 0x89:
            return "NEWFALSE";
        case 0x8a:
            return "LONG1";
        case 0x8b:
            return "LONG4";
        case 'B':
            return "BINBYTES";
        case 'C':
            return "SHORT_BINBYTES";
        case 0x8c:
            return "SHORT_BINUNICODE";
        case 0x8d:
            return "BINUNICODE8";
        case 0x8e:
            return "BINBYTES8";
        case 0x8f:
            return "EMPTY_SET";
        case 0x90:
            return "ADDITEMS";
        case 0x91:
            return "FROZENSET";
        case 0x92:
            return "NEWOBJ_EX";
        case 0x93:
            return "STACK_GLOBAL";
        case 0x94:
            return "MEMOIZE";
        case 0x95:
            return "FRAME";
        case 0x96:
            return "BYTEARRAY8";
        case 0x97:
            return "NEXT_BUFFER";
        case 0x98:
            return "READONLY_BUFFER";
    }
    return nullptr;
}

std::string hex_byte(uint8_t b) {
    const char* digits = "0123456789abcdef";
    return std::string("0x") + digits[b >> 4] + digits[b & 15];
}

// File bytes shown in messages: printable ASCII kept, the rest as \xNN.
std::string printable(std::string_view s) {
    std::string out;
    for (char c : s) {
        auto b = static_cast<uint8_t>(c);
        if (b >= 0x20 && b < 0x7f) {
            out += c;
        } else {
            out += "\\x" + hex_byte(b).substr(2);
        }
    }
    return out;
}

enum class Kind { kNone, kBool, kInt, kFloat, kString, kTuple, kList, kDict, kGlobal, kStorage, kTensor };

const char* kind_name(Kind k) {
    switch (k) {
        case Kind::kNone:
            return "None";
        case Kind::kBool:
            return "bool";
        case Kind::kInt:
            return "int";
        case Kind::kFloat:
            return "float";
        case Kind::kString:
            return "str";
        case Kind::kTuple:
            return "tuple";
        case Kind::kList:
            return "list";
        case Kind::kDict:
            return "dict";
        case Kind::kGlobal:
            return "global";
        case Kind::kStorage:
            return "storage";
        case Kind::kTensor:
            return "tensor";
    }
    return "?";
}

enum class Callable { kOrderedDict, kRebuildTensorV2, kStorageType };

struct AllowedGlobal {
    const char* module;
    const char* name;
    Callable callable;
    DType dtype;  // for kStorageType
};

// The only globals a plain state dict needs; torch.load's weights_only mode allows a similar list.
// Long and Int storages hold buffers such as older transformers' `embeddings.position_ids`.
constexpr AllowedGlobal kAllowed[] = {
    {"collections", "OrderedDict", Callable::kOrderedDict, DType::kF32},
    {"torch._utils", "_rebuild_tensor_v2", Callable::kRebuildTensorV2, DType::kF32},
    {"torch", "FloatStorage", Callable::kStorageType, DType::kF32},
    {"torch", "HalfStorage", Callable::kStorageType, DType::kF16},
    {"torch", "BFloat16Storage", Callable::kStorageType, DType::kBF16},
    {"torch", "LongStorage", Callable::kStorageType, DType::kI64},
    {"torch", "IntStorage", Callable::kStorageType, DType::kI32},
};

// A pickled value. Objects live in the unpickler's arena; containers point at each other, so
// self-referencing containers cannot leak.
struct Object {
    Kind kind = Kind::kNone;
    int64_t i = 0;               // kBool, kInt; index into kAllowed / storages_ / tensors_ for the others
    double f = 0;                // kFloat
    std::string s;               // kString
    std::vector<Object*> items;  // kTuple, kList; kDict as key, value, key, value, ...
};

struct Storage {
    DType dtype;
    std::string key;
    int64_t numel;
};

class Unpickler {
 public:
    explicit Unpickler(std::span<const uint8_t> bytes) : bytes_(bytes) {}
    StatusOr<std::vector<PickledTensor>> run();

 private:
    Status step(uint8_t op);
    Status fail(const std::string& m) const;
    Status refuse(const std::string& m) const;
    std::string op_name() const;

    StatusOr<const uint8_t*> take(size_t n);
    StatusOr<uint64_t> read_uint(size_t n);
    StatusOr<std::string_view> read_line();

    StatusOr<Object*> make(Kind kind);
    Status push(Object* o);
    Status push_new(Kind kind);
    Status push_int(int64_t v);
    Status push_string(size_t len_bytes);
    StatusOr<Object*> pop();
    StatusOr<Object*> top();
    StatusOr<std::vector<Object*>> pop_mark();
    StatusOr<std::vector<Object*>> pop_n(size_t n);
    Status memo_put(uint64_t key);
    Status memo_get(uint64_t key);

    Status find_global(std::string_view module, std::string_view name);
    Status persistent_load(Object* pid);
    Status reduce(Object* callable, Object* args);
    StatusOr<Object*> rebuild_tensor(const std::vector<Object*>& args);
    StatusOr<std::vector<int64_t>> int_tuple(Object* o, const char* what);
    StatusOr<std::vector<PickledTensor>> state_dict(Object* root);

    std::span<const uint8_t> bytes_;
    size_t pos_ = 0;     // next byte to read
    size_t op_pos_ = 0;  // offset of the opcode being executed
    uint8_t op_ = 0;
    std::deque<Object> objects_;  // a deque: pointers into it stay valid as it grows
    std::vector<Object*> stack_;
    std::vector<size_t> marks_;  // stack sizes at each open MARK
    std::unordered_map<uint64_t, Object*> memo_;
    std::vector<Storage> storages_;
    std::vector<PickledTensor> tensors_;
};

std::string Unpickler::op_name() const {
    const char* name = opcode_name(op_);
    return name ? std::string(name) : "opcode " + hex_byte(op_);
}

Status Unpickler::fail(const std::string& m) const {
    return data_loss("pickle byte " + std::to_string(op_pos_) + " (" + op_name() + "): " + m);
}

Status Unpickler::refuse(const std::string& m) const {
    return unimplemented("pickle byte " + std::to_string(op_pos_) + " (" + op_name() + "): " + m);
}

StatusOr<const uint8_t*> Unpickler::take(size_t n) {
    if (bytes_.size() - pos_ < n) {
        return fail("truncated: needs " + std::to_string(n) + " bytes, " + std::to_string(bytes_.size() - pos_) +
                    " left");
    }
    const uint8_t* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
}

StatusOr<uint64_t> Unpickler::read_uint(size_t n) {
    BGE_ASSIGN_OR_RETURN(const uint8_t* p, take(n));
    uint64_t v = 0;
    for (size_t k = n; k-- > 0;) v = (v << 8) | p[k];
    return v;
}

StatusOr<std::string_view> Unpickler::read_line() {
    size_t end = pos_;
    while (end < bytes_.size() && end - pos_ <= kMaxGlobalLine && bytes_[end] != '\n') ++end;
    if (end >= bytes_.size() || bytes_[end] != '\n') {
        return fail("no newline within " + std::to_string(kMaxGlobalLine) + " bytes");
    }
    std::string_view line(reinterpret_cast<const char*>(bytes_.data()) + pos_, end - pos_);
    pos_ = end + 1;
    return line;
}

StatusOr<Object*> Unpickler::make(Kind kind) {
    if (objects_.size() >= kMaxObjects) return fail("more than " + std::to_string(kMaxObjects) + " objects");
    Object& o = objects_.emplace_back();
    o.kind = kind;
    return &o;
}

Status Unpickler::push(Object* o) {
    if (stack_.size() >= kMaxStack) return fail("stack deeper than " + std::to_string(kMaxStack));
    stack_.push_back(o);
    return ok_status();
}

Status Unpickler::push_new(Kind kind) {
    BGE_ASSIGN_OR_RETURN(Object * o, make(kind));
    return push(o);
}

Status Unpickler::push_int(int64_t v) {
    BGE_ASSIGN_OR_RETURN(Object * o, make(Kind::kInt));
    o->i = v;
    return push(o);
}

Status Unpickler::push_string(size_t len_bytes) {
    BGE_ASSIGN_OR_RETURN(uint64_t len, read_uint(len_bytes));
    if (len > kMaxString) return fail("string of " + std::to_string(len) + " bytes is too long");
    BGE_ASSIGN_OR_RETURN(const uint8_t* p, take(len));
    BGE_ASSIGN_OR_RETURN(Object * o, make(Kind::kString));
    o->s.assign(reinterpret_cast<const char*>(p), len);
    return push(o);
}

// Like Python's unpickler, an opcode only sees the stack above the innermost MARK.
StatusOr<Object*> Unpickler::pop() {
    BGE_ASSIGN_OR_RETURN(Object * o, top());
    stack_.pop_back();
    return o;
}

StatusOr<Object*> Unpickler::top() {
    size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() <= floor) return fail("stack underflow");
    return stack_.back();
}

StatusOr<std::vector<Object*>> Unpickler::pop_mark() {
    if (marks_.empty()) return fail("no MARK on the stack");
    size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<Object*> items(stack_.begin() + static_cast<ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
}

StatusOr<std::vector<Object*>> Unpickler::pop_n(size_t n) {
    size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() - floor < n) return fail("stack underflow");
    std::vector<Object*> items(stack_.end() - static_cast<ptrdiff_t>(n), stack_.end());
    stack_.resize(stack_.size() - n);
    return items;
}

Status Unpickler::memo_put(uint64_t key) {
    BGE_ASSIGN_OR_RETURN(Object * o, top());
    if (memo_.size() >= kMaxMemo && memo_.count(key) == 0) {
        return fail("memo larger than " + std::to_string(kMaxMemo) + " entries");
    }
    memo_[key] = o;
    return ok_status();
}

Status Unpickler::memo_get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) return fail("memo key " + std::to_string(key) + " was never stored");
    return push(it->second);
}

Status Unpickler::find_global(std::string_view module, std::string_view name) {
    for (size_t k = 0; k < std::size(kAllowed); ++k) {
        if (module == kAllowed[k].module && name == kAllowed[k].name) {
            BGE_ASSIGN_OR_RETURN(Object * o, make(Kind::kGlobal));
            o->i = static_cast<int64_t>(k);
            return push(o);
        }
    }
    return refuse("global '" + printable(module) + "." + printable(name) +
                  "' is not allowed; a state dict may only use collections.OrderedDict, "
                  "torch._utils._rebuild_tensor_v2 and torch.{Float,Half,BFloat16,Long,Int}Storage");
}

// torch.save's persistent id of a storage: ('storage', storage_type, key, location, numel).
Status Unpickler::persistent_load(Object* pid) {
    const auto& t = pid->items;
    if (pid->kind != Kind::kTuple || t.size() != 5 || t[0]->kind != Kind::kString || t[0]->s != "storage") {
        return fail("persistent id is not ('storage', type, key, location, numel)");
    }
    if (t[1]->kind != Kind::kGlobal || kAllowed[t[1]->i].callable != Callable::kStorageType) {
        return fail("persistent id's storage type is a " + std::string(kind_name(t[1]->kind)) +
                    ", not torch.{Float,Half,BFloat16,Long,Int}Storage");
    }
    if (t[2]->kind != Kind::kString || t[3]->kind != Kind::kString) {
        return fail("persistent id's key and location must be strings");
    }
    if (t[4]->kind != Kind::kInt || t[4]->i < 0) return fail("persistent id's element count is not an int >= 0");
    storages_.push_back({kAllowed[t[1]->i].dtype, t[2]->s, t[4]->i});
    BGE_ASSIGN_OR_RETURN(Object * o, make(Kind::kStorage));
    o->i = static_cast<int64_t>(storages_.size() - 1);
    return push(o);
}

Status Unpickler::reduce(Object* callable, Object* args) {
    if (callable->kind != Kind::kGlobal) {
        return fail("calls a " + std::string(kind_name(callable->kind)) + ", not an allowed global");
    }
    if (args->kind != Kind::kTuple) return fail("arguments are a " + std::string(kind_name(args->kind)));
    const AllowedGlobal& g = kAllowed[callable->i];
    switch (g.callable) {
        case Callable::kOrderedDict:
            if (!args->items.empty()) return fail("collections.OrderedDict called with arguments");
            return push_new(Kind::kDict);
        case Callable::kRebuildTensorV2: {
            BGE_ASSIGN_OR_RETURN(Object * tensor, rebuild_tensor(args->items));
            return push(tensor);
        }
        case Callable::kStorageType:
            break;
    }
    return refuse(std::string(g.module) + "." + g.name + " names a storage type and cannot be called");
}

StatusOr<std::vector<int64_t>> Unpickler::int_tuple(Object* o, const char* what) {
    if (o->kind != Kind::kTuple) return fail(std::string(what) + " is a " + kind_name(o->kind) + ", not a tuple");
    std::vector<int64_t> v;
    for (Object* item : o->items) {
        if (item->kind != Kind::kInt || item->i < 0) {
            return fail(std::string(what) + " holds a value that is not an int >= 0");
        }
        v.push_back(item->i);
    }
    return v;
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]).
StatusOr<Object*> Unpickler::rebuild_tensor(const std::vector<Object*>& args) {
    if (args.size() != 6 && args.size() != 7) {
        return fail("_rebuild_tensor_v2 takes 6 or 7 arguments, got " + std::to_string(args.size()));
    }
    if (args[0]->kind != Kind::kStorage) {
        return fail("_rebuild_tensor_v2's storage is a " + std::string(kind_name(args[0]->kind)));
    }
    if (args[1]->kind != Kind::kInt || args[1]->i < 0) return fail("_rebuild_tensor_v2's offset is not an int >= 0");
    BGE_ASSIGN_OR_RETURN(std::vector<int64_t> shape, int_tuple(args[2], "_rebuild_tensor_v2's size"));
    BGE_ASSIGN_OR_RETURN(std::vector<int64_t> stride, int_tuple(args[3], "_rebuild_tensor_v2's stride"));
    if (args[4]->kind != Kind::kBool) return fail("_rebuild_tensor_v2's requires_grad is not a bool");
    if (args[5]->kind != Kind::kDict) return fail("_rebuild_tensor_v2's backward_hooks is not a dict");
    if (args.size() == 7 && (args[6]->kind != Kind::kDict || !args[6]->items.empty())) {
        return refuse("tensor metadata (conjugate/negative bits) is not supported");
    }
    if (shape.size() != stride.size()) return fail("_rebuild_tensor_v2's size and stride differ in length");
    int64_t numel = 1;
    for (int64_t d : shape) {
        if (__builtin_mul_overflow(numel, d, &numel)) return fail("tensor element count overflows");
    }
    // Contiguous as torch defines it: dims of size 1 may have any stride; an empty tensor any strides.
    int64_t expected = 1;
    for (size_t k = shape.size(); k-- > 0 && numel > 0;) {
        if (shape[k] == 1) continue;
        if (stride[k] != expected) {
            return refuse("tensor is not contiguous (dim " + std::to_string(k) + " has stride " +
                          std::to_string(stride[k]) + ", row-major needs " + std::to_string(expected) + ")");
        }
        expected *= shape[k];
    }
    const Storage& storage = storages_[args[0]->i];
    int64_t offset = args[1]->i;
    if (numel > storage.numel || offset > storage.numel - numel) {
        return fail("tensor [offset " + std::to_string(offset) + ", " + std::to_string(numel) +
                    " elements] runs past its storage '" + printable(storage.key) + "' of " +
                    std::to_string(storage.numel) + " elements");
    }
    tensors_.push_back({"", storage.dtype, storage.key, storage.numel, offset, std::move(shape)});
    BGE_ASSIGN_OR_RETURN(Object * o, make(Kind::kTensor));
    o->i = static_cast<int64_t>(tensors_.size() - 1);
    return o;
}

Status Unpickler::step(uint8_t op) {
    switch (op) {
        case kProto: {
            BGE_ASSIGN_OR_RETURN(uint64_t v, read_uint(1));
            if (v > kMaxProtocol) return refuse("pickle protocol " + std::to_string(v) + " is not supported");
            return ok_status();
        }
        case kFrame:
            return read_uint(8).status();  // framing is only a read-ahead hint
        case kEmptyDict:
            return push_new(Kind::kDict);
        case kEmptyList:
            return push_new(Kind::kList);
        case kEmptyTuple:
            return push_new(Kind::kTuple);
        case kMark:
            if (marks_.size() >= kMaxMarks) return fail("more than " + std::to_string(kMaxMarks) + " open MARKs");
            marks_.push_back(stack_.size());
            return ok_status();
        case kShortBinUnicode:
            return push_string(1);
        case kBinUnicode:
            return push_string(4);
        case kBinUnicode8:
            return push_string(8);
        case kBinInt1: {
            BGE_ASSIGN_OR_RETURN(uint64_t v, read_uint(1));
            return push_int(static_cast<int64_t>(v));
        }
        case kBinInt2: {
            BGE_ASSIGN_OR_RETURN(uint64_t v, read_uint(2));
            return push_int(static_cast<int64_t>(v));
        }
        case kBinInt: {
            BGE_ASSIGN_OR_RETURN(uint64_t v, read_uint(4));
            return push_int(static_cast<int32_t>(static_cast<uint32_t>(v)));
        }
        case kLong1: {
            // Little-endian two's complement of n bytes.
            BGE_ASSIGN_OR_RETURN(uint64_t n, read_uint(1));
            if (n > 8) return refuse("integer of " + std::to_string(n) + " bytes is wider than 64 bits");
            BGE_ASSIGN_OR_RETURN(uint64_t v, read_uint(n));
            if (n > 0 && n < 8 && (v >> (8 * n - 1)) != 0) v |= ~uint64_t{0} << (8 * n);
            return push_int(static_cast<int64_t>(v));
        }
        case kBinFloat: {
            BGE_ASSIGN_OR_RETURN(const uint8_t* p, take(8));
            uint64_t bits = 0;
            for (int k = 0; k < 8; ++k) bits = (bits << 8) | p[k];  // big-endian
            BGE_ASSIGN_OR_RETURN(Object * o, make(Kind::kFloat));
            o->f = std::bit_cast<double>(bits);
            return push(o);
        }
        case kNone:
            return push_new(Kind::kNone);
        case kNewTrue:
        case kNewFalse: {
            BGE_ASSIGN_OR_RETURN(Object * o, make(Kind::kBool));
            o->i = op == kNewTrue;
            return push(o);
        }
        case kGlobal: {
            BGE_ASSIGN_OR_RETURN(std::string_view module, read_line());
            BGE_ASSIGN_OR_RETURN(std::string_view name, read_line());
            return find_global(module, name);
        }
        case kStackGlobal: {
            BGE_ASSIGN_OR_RETURN(Object * name, pop());
            BGE_ASSIGN_OR_RETURN(Object * module, pop());
            if (module->kind != Kind::kString || name->kind != Kind::kString) return fail("operands are not strings");
            return find_global(module->s, name->s);
        }
        case kBinPersId: {
            BGE_ASSIGN_OR_RETURN(Object * pid, pop());
            return persistent_load(pid);
        }
        case kReduce: {
            BGE_ASSIGN_OR_RETURN(Object * args, pop());
            BGE_ASSIGN_OR_RETURN(Object * callable, pop());
            return reduce(callable, args);
        }
        case kBuild: {
            // Only an OrderedDict's attributes (a state dict's _metadata) are set this way; they are dropped.
            BGE_RETURN_IF_ERROR(pop().status());
            BGE_ASSIGN_OR_RETURN(Object * target, top());
            if (target->kind != Kind::kDict) {
                return refuse("cannot set the state of a " + std::string(kind_name(target->kind)));
            }
            return ok_status();
        }
        case kTuple:
        case kTuple1:
        case kTuple2:
        case kTuple3: {
            StatusOr<std::vector<Object*>> items = op == kTuple ? pop_mark() : pop_n(op - kTuple1 + 1);
            if (!items.ok()) return items.status();
            BGE_ASSIGN_OR_RETURN(Object * o, make(Kind::kTuple));
            o->items = std::move(*items);
            return push(o);
        }
        case kSetItem:
        case kSetItems: {
            StatusOr<std::vector<Object*>> items = op == kSetItems ? pop_mark() : pop_n(2);
            if (!items.ok()) return items.status();
            if (items->size() % 2 != 0) return fail("odd number of items for a dict");
            BGE_ASSIGN_OR_RETURN(Object * dict, top());
            if (dict->kind != Kind::kDict) {
                return fail("target is a " + std::string(kind_name(dict->kind)) + ", not a dict");
            }
            dict->items.insert(dict->items.end(), items->begin(), items->end());
            return ok_status();
        }
        case kAppend:
        case kAppends: {
            StatusOr<std::vector<Object*>> items = op == kAppends ? pop_mark() : pop_n(1);
            if (!items.ok()) return items.status();
            BGE_ASSIGN_OR_RETURN(Object * list, top());
            if (list->kind != Kind::kList) {
                return fail("target is a " + std::string(kind_name(list->kind)) + ", not a list");
            }
            list->items.insert(list->items.end(), items->begin(), items->end());
            return ok_status();
        }
        case kBinPut: {
            BGE_ASSIGN_OR_RETURN(uint64_t key, read_uint(1));
            return memo_put(key);
        }
        case kLongBinPut: {
            BGE_ASSIGN_OR_RETURN(uint64_t key, read_uint(4));
            return memo_put(key);
        }
        case kMemoize:
            return memo_put(memo_.size());
        case kBinGet: {
            BGE_ASSIGN_OR_RETURN(uint64_t key, read_uint(1));
            return memo_get(key);
        }
        case kLongBinGet: {
            BGE_ASSIGN_OR_RETURN(uint64_t key, read_uint(4));
            return memo_get(key);
        }
        default:
            break;
    }
    return refuse(opcode_name(op) ? "opcode is not supported in a state dict" : "unknown opcode");
}

StatusOr<std::vector<PickledTensor>> Unpickler::state_dict(Object* root) {
    if (root->kind != Kind::kDict) {
        return fail("the pickle holds a " + std::string(kind_name(root->kind)) + ", not a dict of tensors");
    }
    std::vector<PickledTensor> out;
    std::set<std::string> names;
    for (size_t k = 0; k < root->items.size(); k += 2) {
        Object* key = root->items[k];
        Object* value = root->items[k + 1];
        if (key->kind != Kind::kString) {
            return fail("state dict key " + std::to_string(k / 2) + " is a " + kind_name(key->kind) + ", not a str");
        }
        if (value->kind != Kind::kTensor) {
            return unimplemented("state dict entry '" + printable(key->s) + "' is a " + kind_name(value->kind) +
                                 ", not a tensor (only flat dicts of tensors are supported)");
        }
        if (!names.insert(key->s).second) return fail("state dict key '" + printable(key->s) + "' appears twice");
        PickledTensor t = tensors_[value->i];
        t.name = key->s;
        out.push_back(std::move(t));
    }
    return out;
}

StatusOr<std::vector<PickledTensor>> Unpickler::run() {
    while (true) {
        op_pos_ = pos_;
        if (pos_ >= bytes_.size()) {
            op_ = 0;
            return data_loss("pickle ends at byte " + std::to_string(pos_) + " without STOP");
        }
        op_ = bytes_[pos_++];
        if (op_ == kStop) break;
        BGE_RETURN_IF_ERROR(step(op_));
    }
    BGE_ASSIGN_OR_RETURN(Object * root, pop());
    return state_dict(root);
}

}  // namespace

StatusOr<std::vector<PickledTensor>> unpickle_state_dict(std::span<const uint8_t> pickle) {
    return Unpickler(pickle).run();
}

}  // namespace bge::io
