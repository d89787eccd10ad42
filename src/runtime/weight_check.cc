// bge::check_weights: every floating tensor of a model folder scanned for NaN and Inf, in file order.
#include <algorithm>
#include <vector>

#include "bge/engine.h"
#include "io/finite_scan.h"
#include "io/model_dir.h"

namespace bge {

StatusOr<WeightCheck> check_weights(const std::string& model_dir) {
    BGE_ASSIGN_OR_RETURN(io::ModelFiles files, io::find_model_files(model_dir));
    std::vector<std::string> paths = files.weight_files;
    for (const std::string& head : {files.sparse_linear, files.colbert_linear}) {
        if (!head.empty()) paths.push_back(head);
    }
    WeightCheck check;
    for (const std::string& path : paths) {
        BGE_ASSIGN_OR_RETURN(io::TensorMap tensors, io::read_tensor_file(path));
        std::vector<const io::TensorMap::value_type*> in_file_order;
        for (const auto& entry : tensors) in_file_order.push_back(&entry);
        std::sort(in_file_order.begin(), in_file_order.end(),
                  [](const auto* a, const auto* b) { return a->second.data < b->second.data; });
        for (const auto* entry : in_file_order) {
            const io::RawTensor& t = entry->second;
            if (t.dtype != DType::kF32 && t.dtype != DType::kF16 && t.dtype != DType::kBF16) continue;
            BGE_RETURN_IF_ERROR(io::check_finite(entry->first, t));
            ++check.tensors;
            check.elements += t.numel();
            check.bytes += t.nbytes;
        }
    }
    return check;
}

}  // namespace bge
