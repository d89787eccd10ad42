// Recognizes checkpoint formats by their first bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace bge::io {

// A zip archive starts with a local file header (torch.save's default format since torch 1.6).
inline bool is_zip(const uint8_t* data, size_t size) {
    return size >= 4 && std::memcmp(data, "PK\x03\x04", 4) == 0;
}

// torch.save(..., _use_new_zipfile_serialization=False) starts with the pickled magic number
// 0x1950a86a20f9469cfc6c: PROTO n, a FRAME from protocol 4 on, LONG1 of 10 bytes.
inline bool is_legacy_torch_pickle(const uint8_t* data, size_t size) {
    static constexpr uint8_t kMagic[] = {0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    if (size < 2 || data[0] != 0x80) return false;
    size_t at = size > 2 && data[2] == 0x95 ? 11 : 2;  // FRAME: opcode + 8-byte length
    return size >= at + sizeof kMagic && std::memcmp(data + at, kMagic, sizeof kMagic) == 0;
}

}  // namespace bge::io
