// Looks up checkpoint tensors by their Hugging Face names, checks shapes, converts to fp32.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bge/status.h"
#include "io/tensor_file.h"

namespace bge {

class WeightReader {
 public:
    // `prefix` is prepended to every name asked for ("roberta." for ForSequenceClassification checkpoints).
    WeightReader(const io::TensorMap& tensors, std::string prefix) : tensors_(tensors), prefix_(std::move(prefix)) {}

    // The tensor `name` as fp32, row-major. A missing tensor, or one whose shape is not `shape`, is an
    // error naming the tensor, the expected and the found shape, and the file.
    StatusOr<std::vector<float>> read(const std::string& name, const std::vector<int64_t>& shape) const;

    // The dtype of the tensor `name` (which must exist).
    StatusOr<DType> dtype_of(const std::string& name) const;

 private:
    const io::TensorMap& tensors_;
    std::string prefix_;
};

// "roberta." when the encoder's tensors carry that prefix (HF's task models), "" otherwise.
std::string encoder_prefix(const io::TensorMap& tensors);

}  // namespace bge
