// The few fields of a serialized SentencePiece ModelProto that libsentencepiece's API does not expose.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bge/status.h"

namespace bge {

// sentencepiece_model.proto enums.
enum class SpmModelType : int32_t { kUnigram = 1, kBpe = 2, kWord = 3, kChar = 4 };
enum class SpmPieceType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

struct SpmModelFields {
    SpmModelType model_type = SpmModelType::kUnigram;  // trainer_spec.model_type
    std::string precompiled_charsmap;                  // normalizer_spec.precompiled_charsmap
    std::vector<SpmPieceType> piece_types;             // pieces[i].type
    std::vector<std::string_view> pieces;              // pieces[i].piece, pointing into the serialized bytes
    std::vector<float> scores;                         // pieces[i].score
};

// Reads the protobuf wire format of `serialized` (which must outlive the result); kDataLoss when it is malformed.
StatusOr<SpmModelFields> parse_spm_model_fields(std::string_view serialized);

}  // namespace bge
