// Batch invariance of an embedder: every 5th text embedded alone against the same text inside one call with all
// of them. Header-only, like golden_reference.h.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "bge/engine.h"

namespace bge::test {

// The largest |difference| over the dense and colbert values of the texts compared; also fails the test when the
// shapes differ, and with same_sparse_ids when a sparse id list has another length (on a GPU a weight at ~0 may
// round to either side of the relu).
inline double alone_vs_batch_max_diff(Embedder& embedder, const std::vector<std::string>& texts, bool same_sparse_ids) {
    auto together = embedder.embed(texts);
    EXPECT_TRUE(together.ok()) << together.status().to_string();
    if (!together.ok()) return INFINITY;
    double worst = 0;
    for (size_t i = 0; i < texts.size(); i += 5) {
        auto alone = embedder.embed(std::span<const std::string>(&texts[i], 1));
        EXPECT_TRUE(alone.ok()) << alone.status().to_string();
        if (!alone.ok()) return INFINITY;
        const Embedding& a = (*alone)[0];
        const Embedding& t = (*together)[i];
        EXPECT_EQ(a.colbert.size(), t.colbert.size()) << "text " << i;
        if (same_sparse_ids) {
            EXPECT_EQ(a.sparse.size(), t.sparse.size()) << "text " << i;
        }
        if (a.colbert.size() != t.colbert.size() || a.dense.size() != t.dense.size()) return INFINITY;
        for (size_t k = 0; k < a.dense.size(); ++k) worst = std::max(worst, std::abs(double(a.dense[k]) - t.dense[k]));
        for (size_t k = 0; k < a.colbert.size(); ++k) {
            worst = std::max(worst, std::abs(double(a.colbert[k]) - t.colbert[k]));
        }
    }
    return worst;
}

}  // namespace bge::test
