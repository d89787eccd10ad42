#include "io_test_util.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace bge::io::test_util {

namespace {

void put_le(std::string& out, uint64_t v, int n_bytes) {
    for (int k = 0; k < n_bytes; ++k) out += static_cast<char>((v >> (8 * k)) & 0xFF);
}

}  // namespace

std::vector<float> to_f32(const RawTensor& t) {
    std::vector<float> out(static_cast<size_t>(t.numel()));
    convert_to_f32(t.dtype, t.data, out.size(), out.data());
    return out;
}

std::string f32_bytes(const std::vector<float>& v) {
    std::string out(v.size() * sizeof(float), '\0');
    std::memcpy(out.data(), v.data(), out.size());
    return out;
}

std::string safetensors_bytes(const std::string& header_json, const std::string& data) {
    std::string out;
    put_le(out, header_json.size(), 8);
    return out + header_json + data;
}

std::string zip_bytes(const std::vector<ZipMember>& members, const ZipOptions& options) {
    constexpr uint32_t kSat = 0xFFFFFFFF;
    std::string out;
    std::string central;
    for (const ZipMember& m : members) {
        const uint64_t lho = out.size();
        std::string local_extra;
        if (options.align > 0) {
            // A padding field like torch's "FB" one: id, length, filler.
            size_t unpadded = lho + 30 + m.name.size() + 4;
            size_t pad = (options.align - unpadded % options.align) % options.align;
            put_le(local_extra, 0x4246, 2);
            put_le(local_extra, pad, 2);
            local_extra.append(pad, 'Z');
        }
        out += "PK\x03\x04";
        put_le(out, 20, 2);        // version needed
        put_le(out, 0, 2);         // flags
        put_le(out, m.method, 2);  // method
        put_le(out, 0, 4);         // time, date
        put_le(out, 0, 4);         // crc-32 (not checked by the reader)
        put_le(out, m.data.size(), 4);
        put_le(out, m.data.size(), 4);
        put_le(out, m.name.size(), 2);
        put_le(out, local_extra.size(), 2);
        out += m.name + local_extra + m.data;

        std::string extra;
        if (options.zip64) {
            put_le(extra, 0x0001, 2);
            put_le(extra, 24, 2);
            put_le(extra, m.data.size(), 8);
            put_le(extra, m.data.size(), 8);
            put_le(extra, lho, 8);
        }
        central += "PK\x01\x02";
        put_le(central, 45, 2);  // version made by
        put_le(central, 45, 2);  // version needed
        put_le(central, 0, 2);
        put_le(central, m.method, 2);
        put_le(central, 0, 4);
        put_le(central, 0, 4);
        put_le(central, options.zip64 ? kSat : m.data.size(), 4);
        put_le(central, options.zip64 ? kSat : m.data.size(), 4);
        put_le(central, m.name.size(), 2);
        put_le(central, extra.size(), 2);
        put_le(central, 0, 2);  // comment length
        put_le(central, 0, 2);  // disk
        put_le(central, 0, 2);  // internal attributes
        put_le(central, 0, 4);  // external attributes
        put_le(central, options.zip64 ? kSat : lho, 4);
        central += m.name + extra;
    }
    const uint64_t cd_offset = out.size();
    out += central;
    const uint64_t n = members.size();
    if (options.zip64) {
        const uint64_t rec = out.size();
        out += "PK\x06\x06";
        put_le(out, 44, 8);  // size of the rest of the record
        put_le(out, 45, 2);
        put_le(out, 45, 2);
        put_le(out, 0, 4);
        put_le(out, 0, 4);
        put_le(out, n, 8);
        put_le(out, n, 8);
        put_le(out, central.size(), 8);
        put_le(out, cd_offset, 8);
        out += "PK\x06\x07";
        put_le(out, 0, 4);
        put_le(out, rec, 8);
        put_le(out, 1, 4);
    }
    out += "PK\x05\x06";
    put_le(out, 0, 2);
    put_le(out, 0, 2);
    put_le(out, options.zip64 ? 0xFFFF : n, 2);
    put_le(out, options.zip64 ? 0xFFFF : n, 2);
    put_le(out, options.zip64 ? kSat : central.size(), 4);
    put_le(out, options.zip64 ? kSat : cd_offset, 4);
    put_le(out, 0, 2);
    return out;
}

PickleWriter& PickleWriter::op(uint8_t code) {
    bytes_ += static_cast<char>(code);
    return *this;
}

PickleWriter& PickleWriter::raw(const std::string& bytes) {
    bytes_ += bytes;
    return *this;
}

PickleWriter& PickleWriter::proto(int version) {
    op(0x80);
    return op(static_cast<uint8_t>(version));
}

PickleWriter& PickleWriter::global(const std::string& module, const std::string& name) {
    op('c');
    bytes_ += module + "\n" + name + "\n";
    return *this;
}

PickleWriter& PickleWriter::str(const std::string& s) {
    op('X');
    put_le(bytes_, s.size(), 4);
    bytes_ += s;
    return *this;
}

PickleWriter& PickleWriter::integer(int64_t v) {
    if (v >= 0 && v < 256) {
        op('K');
        put_le(bytes_, v, 1);
    } else if (v >= 0 && v < 65536) {
        op('M');
        put_le(bytes_, v, 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        op('J');
        put_le(bytes_, static_cast<uint32_t>(v), 4);
    } else {
        op(0x8a);
        op(8);
        put_le(bytes_, static_cast<uint64_t>(v), 8);
    }
    return *this;
}

std::string state_dict_pickle(const std::vector<TensorSpec>& tensors) {
    PickleWriter p;
    p.proto(2).op('}').mark();
    for (const TensorSpec& t : tensors) {
        p.str(t.name).global("torch._utils", "_rebuild_tensor_v2").mark();
        p.mark().str("storage").global("torch", t.storage_type).str(t.key).str("cpu").integer(t.storage_numel).op('t');
        p.op('Q').integer(t.offset);
        p.mark();
        for (int64_t d : t.size) p.integer(d);
        p.op('t').mark();
        for (int64_t s : t.stride) p.integer(s);
        p.op('t').op(0x89).global("collections", "OrderedDict").op(')').op('R');
        p.op('t').op('R');
    }
    return p.op('u').stop().bytes();
}

std::string torch_zip(const std::string& prefix, const std::string& pickle,
                      const std::vector<std::pair<std::string, std::string>>& storages, bool zip64) {
    std::vector<ZipMember> members{{prefix + "/data.pkl", pickle}};
    for (const auto& [key, bytes] : storages) members.push_back({prefix + "/data/" + key, bytes});
    members.push_back({prefix + "/version", "3\n"});
    return zip_bytes(members, {.align = 64, .zip64 = zip64});
}

::testing::AssertionResult failed_with(const Status& s, StatusCode code, const std::vector<std::string>& needles) {
    if (s.ok()) return ::testing::AssertionFailure() << "succeeded, expected " << status_code_name(code);
    if (s.code() != code) {
        return ::testing::AssertionFailure() << "got " << s.to_string() << ", expected " << status_code_name(code);
    }
    for (const std::string& n : needles) {
        if (s.message().find(n) == std::string::npos) {
            return ::testing::AssertionFailure() << "message \"" << s.message() << "\" lacks \"" << n << "\"";
        }
    }
    return ::testing::AssertionSuccess();
}

}  // namespace bge::io::test_util
