// BGE-M3 scores, as FlagEmbedding's BGEM3FlagModel.compute_score computes them.
#include <algorithm>
#include <cmath>
#include <limits>

#include "bge/engine.h"
#include "model/vector_math.h"

namespace bge {
namespace {

// Σ over token ids present in both of q_w · p_w (compute_lexical_matching_score); both lists sorted by id.
double sparse_score(const std::vector<SparseWeight>& q, const std::vector<SparseWeight>& p) {
    double s = 0;
    size_t j = 0;
    for (const SparseWeight& qw : q) {
        while (j < p.size() && p[j].token_id < qw.token_id) ++j;
        if (j < p.size() && p[j].token_id == qw.token_id) s += static_cast<double>(qw.weight) * p[j].weight;
    }
    return s;
}

// mean over query vectors of the best dot product with any passage vector (colbert_score).
double colbert_score(const Embedding& q, const Embedding& p) {
    const size_t dim = static_cast<size_t>(q.colbert_dim);
    const size_t nq = q.colbert.size() / dim;
    const size_t np = p.colbert.size() / dim;
    double total = 0;
    for (size_t i = 0; i < nq; ++i) {
        double best = -std::numeric_limits<double>::infinity();
        for (size_t j = 0; j < np; ++j) best = std::max(best, dot(&q.colbert[i * dim], &p.colbert[j * dim], dim));
        total += best;
    }
    return total / static_cast<double>(nq);
}

}  // namespace

StatusOr<M3Scores> m3_scores(const Embedding& query, const Embedding& passage, std::array<float, 3> weights) {
    for (const Embedding* e : {&query, &passage}) {
        if (e->dense.empty() || e->colbert.empty() || e->colbert_dim <= 0) {
            return invalid_argument("M3 scores need dense and colbert outputs of both texts");
        }
    }
    if (query.dense.size() != passage.dense.size() || query.colbert_dim != passage.colbert_dim) {
        return invalid_argument("M3 scores need embeddings of the same model");
    }
    for (float w : weights) {
        if (!(w >= 0) || !std::isfinite(w)) return invalid_argument("M3 weights must be finite and >= 0");
    }
    if (weights[0] + weights[1] <= 0 || weights[0] + weights[1] + weights[2] <= 0) {
        return invalid_argument("M3 weights: dense + sparse weights must be positive");
    }
    const double d = dot(query.dense.data(), passage.dense.data(), query.dense.size());
    const double s = sparse_score(query.sparse, passage.sparse);
    const double c = colbert_score(query, passage);
    const double w0 = weights[0], w1 = weights[1], w2 = weights[2];
    M3Scores r;
    r.dense = static_cast<float>(d);
    r.sparse = static_cast<float>(s);
    r.colbert = static_cast<float>(c);
    r.sparse_dense = static_cast<float>((w0 * d + w1 * s) / (w0 + w1));
    r.colbert_sparse_dense = static_cast<float>((w0 * d + w1 * s + w2 * c) / (w0 + w1 + w2));
    // Finite embeddings can still overflow float in the sparse product.
    for (float v : {r.dense, r.sparse, r.colbert, r.sparse_dense, r.colbert_sparse_dense}) {
        if (!std::isfinite(v)) {
            return data_loss(
                "an M3 score is not finite; the model's weights may be damaged "
                "(bge info --check-weights scans them)");
        }
    }
    return r;
}

}  // namespace bge
