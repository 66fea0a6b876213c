"""Decision trees as flat node arrays, walked for every row and every tree at once.

Spark ML saves a tree as one Parquet row per node (``NodeData``: id, prediction,
impurityStats, leftChild, rightChild, split) with ids in pre-order, and an ensemble as
the same rows tagged with a ``treeID``. :func:`read_forest` reads those columns with
pyarrow into one node array for all trees: tree ``t``'s node ``i`` sits at
``offsets[t] + i``, so a node's left child is always the next node (pre-order) and only
right children need storing.

:meth:`Forest.leaves` walks all rows of all trees down one level per step (a loop over
depth, never over rows or trees). Each split is a row of a table indexed by the
value's code (for a continuous feature the number of its thresholds below the value,
for a categorical one its category), so a step is one lookup whatever the split: Spark
draws continuous thresholds from at most ``maxBins - 1`` candidates per feature, which
keeps the rows short. A forest whose table would be too large tests thresholds and
categories separately instead. A leaf points its right child at itself and tests a
feature that is always NaN, which goes right (``NaN <= t`` is false), so rows that reach
a leaf early stay there. The split tests are Spark's ``Split.shouldGoLeft``:

* continuous: left when ``value <= threshold`` (NaN goes right);
* categorical: Spark keeps the smaller of the left set and its complement and tests
  membership of the double value, so a value in the left categories goes left, another
  category goes right, and anything that is no category at all (NaN, 1.5, -1, beyond
  ``numCategories``) goes left exactly when Spark kept the complement (the left set
  holds more than half the categories).

:func:`java_ddot_of_products` is the dot product of the JVM BLAS Spark's GBT models call, summed
in its order, so boosted margins match Spark's bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from sparktrack.errors import InvalidInputError

__all__ = ["Forest", "java_ddot_of_products", "read_forest", "weighted_leaves"]

_BLOCK = 32768
"""The most nodes one walk moves at once (256 KB arrays)."""


@dataclass(frozen=True)
class Forest:
    """The nodes of one or more trees, flattened (see the module docstring).

    Attributes:
        roots: The index of each tree's root, in tree order.
        feature: Per node, the feature its split tests (leaves: the always-NaN column).
        threshold: Per node, the continuous split's threshold (NaN for other nodes,
            so the comparison says right).
        right: Per node, its right child (leaves: itself).
        category_table: Categorical splits' left sets, one row per split after an
            all-False row for the other nodes, flattened: column ``c`` says whether
            category ``c`` goes left, the last column where a value that is no
            category goes.
        category_row: Per node, where its row of ``category_table`` starts.
        category_width: The width of a ``category_table`` row (0 without categorical
            splits).
        feature_categories: Per feature, the number of categories its categorical
            splits know (0 for a feature no categorical split tests).
        is_leaf: Per node.
        leaf_rank: Per node, its leaf's rank in its tree (pre-order from 0), as Spark
            numbers leaves for ``leafCol``.
        prediction: Per node, its ``prediction``.
        stats: Per node, its ``impurityStats`` (nodes x stats).
        depth: The deepest tree's depth (steps a walk takes).
        num_features: The length of the feature vectors the trees read.
        split_thresholds: Per feature, the sorted distinct thresholds of its continuous
            splits (empty for others).
        split_table: Every split as one row of ``split_width`` booleans, flattened:
            column ``c`` says whether a value whose code is ``c`` goes left. A value's
            code is, for a continuous feature, how many of its thresholds lie below
            it (NaN: all of them), for a categorical one its category (the last
            column when it is no category). None when the table would be too large;
            the walk then tests thresholds and categories separately.
        split_width: The width of a ``split_table`` row.
    """

    roots: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    right: np.ndarray
    category_table: np.ndarray
    category_row: np.ndarray
    category_width: int
    feature_categories: np.ndarray
    is_leaf: np.ndarray
    leaf_rank: np.ndarray
    prediction: np.ndarray
    stats: np.ndarray
    depth: int
    num_features: int
    split_thresholds: tuple[np.ndarray, ...] = ()
    split_table: np.ndarray | None = None
    split_width: int = 0

    @property
    def num_trees(self) -> int:
        return int(self.roots.shape[0])

    def leaves(self, features: np.ndarray) -> np.ndarray:
        """The leaf each row reaches in each tree: node indices, trees x rows."""
        rows = features.shape[0]
        width = self.num_features + 1
        # One more column, always NaN: the feature every leaf tests, so it goes right
        # to itself.
        padded = np.empty((rows, width))
        padded[:, :-1] = features
        padded[:, -1] = np.nan
        flat = padded.ravel()
        codes: np.ndarray | None
        walk: Callable[..., np.ndarray]
        if self.split_table is not None:
            # One lookup per node and row: the value's code in the split's row.
            codes = self._split_codes(padded).ravel()
            walk = self._walk_table
        else:
            codes = self._category_codes(padded).ravel() if self.category_width else None
            walk = self._walk
        leaves = np.empty((self.num_trees, rows), dtype=np.intp)
        # Walked in blocks of rows x trees of at most _BLOCK nodes: arrays that size stay
        # in the CPU's cache and in malloc's heap, where larger ones are fresh pages
        # from the OS at every step (measured on 2 cores: 100 trees x 1,000 rows in
        # 2.8 ms instead of 10 ms unblocked; 32,768 nodes walked 15% faster than 8,192 for
        # 10,000 rows, and 65,536 lost it again for a GBT's shallow trees).
        block_rows = max(1, min(rows, _BLOCK))
        block_trees = max(1, _BLOCK // block_rows)
        for first_row in range(0, rows, block_rows):
            last_row = min(rows, first_row + block_rows)
            row_starts = np.arange(first_row, last_row) * width
            for first_tree in range(0, self.num_trees, block_trees):
                roots = self.roots[first_tree : first_tree + block_trees]
                walked = walk(roots, row_starts, flat, codes)
                last_tree = first_tree + roots.shape[0]
                leaves[first_tree:last_tree, first_row:last_row] = walked.reshape(
                    last_tree - first_tree, -1
                )
        return leaves

    def _walk(
        self, roots: np.ndarray, row_starts: np.ndarray, flat: np.ndarray, codes: np.ndarray | None
    ) -> np.ndarray:
        """Every row from every root down to its leaf, a level per step (trees x rows, flat)."""
        base = np.tile(row_starts, roots.shape[0])
        node = np.repeat(roots, row_starts.shape[0])
        for _ in range(self.depth):
            at = base + self.feature.take(node)
            with np.errstate(invalid="ignore"):
                left = flat.take(at) <= self.threshold.take(node)
            if codes is not None:
                left |= self.category_table.take(self.category_row.take(node) + codes.take(at))
            right = self.right.take(node)
            # right + left * (left child - right): np.where on a mixed boolean mask costs
            # ten times this arithmetic.
            node = right + left * (node + 1 - right)
        return node

    def _walk_table(
        self,
        roots: np.ndarray,
        row_starts: np.ndarray,
        flat: np.ndarray,
        codes: np.ndarray | None,
    ) -> np.ndarray:
        """As ``_walk``, each split answered by one lookup in ``split_table``."""
        assert self.split_table is not None and codes is not None
        base = np.tile(row_starts, roots.shape[0])
        node = np.repeat(roots, row_starts.shape[0])
        for _ in range(self.depth):
            code = codes.take(base + self.feature.take(node))
            left = self.split_table.take(node * self.split_width + code)
            right = self.right.take(node)
            node = right + left * (node + 1 - right)
        return node

    def _split_codes(self, padded: np.ndarray) -> np.ndarray:
        """Each value's column in ``split_table`` (see ``split_thresholds``)."""
        codes = self._category_codes(padded) if self.category_width else None
        if codes is None:
            codes = np.zeros(padded.shape, dtype=np.intp)
        else:
            # The table's "no category" column is its last.
            codes[codes == self.category_width - 1] = self.split_width - 1
        for feature, thresholds in enumerate(self.split_thresholds):
            if thresholds.shape[0]:
                # searchsorted counts the thresholds below the value (NaN sorts last),
                # so value <= thresholds[k] exactly when the code is at most k.
                codes[:, feature] = np.searchsorted(thresholds, padded[:, feature], "left")
        return codes

    def _category_codes(self, padded: np.ndarray) -> np.ndarray:
        """Each value's column in ``category_table``: its category, or the last column."""
        codes = np.full(padded.shape, self.category_width - 1, dtype=np.intp)
        for feature in np.flatnonzero(self.feature_categories):
            value = padded[:, feature]
            with np.errstate(invalid="ignore"):
                # A category is a whole number in [0, numCategories); Spark compares the
                # double itself, so 1.5 is no category (it is not truncated to 1).
                category = (
                    (value >= 0)
                    & (value < self.feature_categories[feature])
                    & (value == np.floor(value))
                )
            codes[category, feature] = value[category].astype(np.intp)
        return codes


def _column(struct: pa.StructArray, name: str) -> pa.Array:
    return struct.field(name)


def _uniform_lists(values: pa.Array, rows: int, what: str) -> np.ndarray:
    """A list<double> column whose lists all have one length, as rows x length."""
    lists = values.cast(pa.list_(pa.float64()))
    offsets = lists.offsets.to_numpy()
    lengths = np.diff(offsets)
    if rows and (lengths != lengths[0]).any():
        raise InvalidInputError(f"the saved tree nodes hold {what} of different lengths")
    flat = lists.flatten().to_numpy(zero_copy_only=False)
    width = int(lengths[0]) if rows else 0
    return flat.reshape(rows, width) if width else np.zeros((rows, 0))


def read_forest(table: pa.Table, num_features: int, label: str) -> Forest:
    """Flatten a saved tree (``data/``: NodeData rows) or ensemble (``treeID``, ``nodeData``).

    Args:
        table: The stage's ``data`` table.
        num_features: The model's ``numFeatures``.
        label: The stage, for messages.

    Raises:
        InvalidInputError: The nodes do not form trees (ids not 0..n-1 per tree).
    """
    if "nodeData" in table.column_names:
        nodes = table.column("nodeData").combine_chunks()
        tree_ids = table.column("treeID").to_numpy().astype(np.intp)
    else:
        nodes = pa.StructArray.from_arrays(
            [table.column(n).combine_chunks() for n in table.column_names], table.column_names
        )
        tree_ids = np.zeros(len(table), dtype=np.intp)
    count = len(nodes)
    ids = _column(nodes, "id").to_numpy().astype(np.intp)
    order = np.lexsort((ids, tree_ids))
    tree_ids, ids = tree_ids[order], ids[order]
    trees, sizes = np.unique(tree_ids, return_counts=True)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
    expected = np.arange(count) - np.repeat(offsets, sizes)
    if (
        count == 0
        or not np.array_equal(ids, expected)
        or not np.array_equal(trees, np.arange(trees.shape[0]))
    ):
        raise InvalidInputError(
            f"the saved {label} has tree nodes whose ids are not 0 to n-1 in each tree; the "
            "model folder is damaged"
        )
    tree_of = np.repeat(np.arange(trees.shape[0]), sizes)
    index = np.arange(count, dtype=np.intp)

    def take(name: str) -> np.ndarray:
        return _column(nodes, name).to_numpy(zero_copy_only=False)[order]

    left_child, right_child = take("leftChild").astype(np.intp), take("rightChild")
    is_leaf = left_child == -1
    split = _column(nodes, "split")
    split_feature = split.field("featureIndex").to_numpy(zero_copy_only=False)[order]
    num_categories = split.field("numCategories").to_numpy(zero_copy_only=False)[order]
    cuts = split.field("leftCategoriesOrThreshold").cast(pa.list_(pa.float64()))
    # Offsets into the values buffer, which flatten() starts at the array's first list.
    cut_offsets = cuts.offsets.to_numpy()
    cut_offsets = cut_offsets - cut_offsets[0]
    cut_values = cuts.flatten().to_numpy(zero_copy_only=False)
    internal = ~is_leaf
    global_left = np.where(internal, left_child + np.repeat(offsets, sizes), index)
    if not np.array_equal(global_left[internal], index[internal] + 1):
        raise InvalidInputError(
            f"the saved {label} has tree nodes out of pre-order; the model folder is damaged"
        )
    right = np.where(internal, right_child.astype(np.intp) + offsets[tree_of], index)
    feature = np.where(internal, split_feature, num_features).astype(np.intp)
    categorical_nodes = np.flatnonzero(internal & (num_categories != -1))
    continuous_nodes = np.flatnonzero(internal & (num_categories == -1))
    threshold = np.full(count, np.nan)
    threshold[continuous_nodes] = cut_values[cut_offsets[order[continuous_nodes]]]
    categories = num_categories[categorical_nodes].astype(np.intp)
    feature_categories = np.zeros(num_features + 1, dtype=np.intp)
    np.maximum.at(feature_categories, feature[categorical_nodes], categories)
    width = int(categories.max()) + 1 if categories.shape[0] else 0
    splits = categorical_nodes.shape[0]
    table = np.zeros((splits + 1, width), dtype=bool)
    # Spark's CategoricalSplit.isLeft: it stores the left set when that is at most half
    # the categories, else the right set, and tests membership in what it stores: a
    # value that is none of its categories goes left when it stored the right set.
    starts = cut_offsets[order[categorical_nodes]]
    lengths = cut_offsets[order[categorical_nodes] + 1] - starts
    outside_left = lengths > categories // 2
    beyond = np.arange(width)[None, :] >= categories[:, None]
    table[1:] = beyond & outside_left[:, None]
    split_row = np.repeat(np.arange(1, splits + 1), lengths)
    within = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    chosen = cut_values[np.repeat(starts, lengths) + within].astype(np.intp)
    table[split_row, chosen] = True
    category_row = np.zeros(count, dtype=np.intp)
    category_row[categorical_nodes] = np.arange(1, splits + 1) * width
    split_thresholds, split_table, split_width = _split_table(
        feature, threshold, continuous_nodes, categorical_nodes, table, width, num_features
    )
    leaves_before = np.concatenate([[0], np.cumsum(is_leaf)])[offsets]
    leaf_rank = (np.cumsum(is_leaf) - 1 - np.repeat(leaves_before, sizes)).astype(np.float64)
    stats = _uniform_lists(_column(nodes, "impurityStats"), count, "impurity stats")[order]
    return Forest(
        roots=offsets,
        feature=feature,
        threshold=threshold,
        right=right,
        category_table=table.ravel(),
        category_row=category_row,
        category_width=width,
        feature_categories=feature_categories,
        is_leaf=is_leaf,
        leaf_rank=leaf_rank,
        prediction=take("prediction").astype(np.float64),
        stats=stats,
        depth=_depth(right, is_leaf, offsets),
        num_features=num_features,
        split_thresholds=split_thresholds,
        split_table=split_table,
        split_width=split_width,
    )


_TABLE_LIMIT = 1 << 25
"""The most entries (bytes) ``split_table`` may take; larger forests walk without it."""


def _split_table(
    feature: np.ndarray,
    threshold: np.ndarray,
    continuous_nodes: np.ndarray,
    categorical_nodes: np.ndarray,
    category_table: np.ndarray,
    category_width: int,
    num_features: int,
) -> tuple[tuple[np.ndarray, ...], np.ndarray | None, int]:
    """Every split as a row of booleans by value code (see ``Forest.split_table``).

    Spark's continuous splits come from at most ``maxBins - 1`` candidate thresholds
    per feature, so the rows stay short; a forest whose table would pass
    ``_TABLE_LIMIT`` gets none.
    """
    count = feature.shape[0]
    thresholds = tuple(
        np.unique(threshold[continuous_nodes[feature[continuous_nodes] == f]])
        for f in range(num_features + 1)
    )
    width = max(max(t.shape[0] for t in thresholds) + 1, category_width, 1)
    if count * width > _TABLE_LIMIT:
        return thresholds, None, width
    table = np.zeros((count, width), dtype=bool)
    ranks = np.empty(continuous_nodes.shape[0], dtype=np.intp)
    tested = feature[continuous_nodes]
    for f in np.unique(tested):
        of_f = tested == f
        ranks[of_f] = np.searchsorted(thresholds[f], threshold[continuous_nodes[of_f]])
    table[continuous_nodes] = np.arange(width)[None, :] <= ranks[:, None]
    if categorical_nodes.shape[0]:
        rows = category_table.reshape(-1, category_width)[1:]
        table[categorical_nodes, : category_width - 1] = rows[:, :-1]
        table[categorical_nodes, category_width - 1 :] = rows[:, -1:]
    return thresholds, table.ravel(), width


def _depth(right: np.ndarray, is_leaf: np.ndarray, roots: np.ndarray) -> int:
    """The deepest leaf's depth over all trees: one step per level, all trees at once."""
    level, depth = roots, 0
    while True:
        level = level[~is_leaf[level]]
        if level.shape[0] == 0:
            return depth
        level = np.concatenate([level + 1, right[level]])
        depth += 1


def _fma(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``a * b + c`` rounded once, as Java's ``Math.fma`` (Python 3.11 has no fma).

    Boldo and Melquiond's emulation: the product split exactly into two doubles
    (Dekker), ``c`` added exactly (TwoSum), the low parts added rounding to odd, then
    one rounding to nearest. Exact for finite values away from overflow and underflow,
    which tree predictions and weights are.
    """
    return _add_product(*_two_product(a, b), c)


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = a + b
    b_virtual = s - a
    return s, (a - (s - b_virtual)) + (b - b_virtual)


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scaled = 134217729.0 * a  # 2**27 + 1: Veltkamp's split of a double into two halves
    high = scaled - (scaled - a)
    return high, a - high


def _two_product(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = a * b
    a_high, a_low = _split(a)
    b_high, b_low = _split(b)
    return p, ((a_high * b_high - p) + a_high * b_low + a_low * b_high) + a_low * b_low


def _round_to_odd_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a + b`` rounded to odd: an inexact sum takes the neighbour whose last bit is 1."""
    s, error = _two_sum(a, b)
    bits = s.view(np.int64)
    # An inexact sum with an even last bit moves one step toward the exact value: one
    # more unit in the magnitude's bits when the error has the sum's sign, one less
    # otherwise (doubles order like sign-magnitude integers). A zero sum is exact.
    move = (error != 0) & ((bits & 1) == 0)
    away = (error > 0) == (s > 0)
    return (bits + move * (2 * away.astype(np.int64) - 1)).view(np.float64)


def weighted_leaves(forest: Forest, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per node, its prediction times its tree's weight, exactly, as two doubles.

    A GBT's terms are its leaves' predictions times fixed weights: the exact products
    are computed once per node here, not once per row and tree when scoring.
    """
    sizes = np.diff(np.append(forest.roots, forest.prediction.shape[0]))
    return _two_product(forest.prediction, np.repeat(weights, sizes))


def java_ddot_of_products(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """A GBT margin from its terms' exact products ``high + low`` (``weighted_leaves``).

    The sum is Spark's ``weights @ terms`` (trees x rows) as its GBT models compute it
    on Java 11+.

    ``BLAS.nativeBLAS.ddot`` falls back, without a native BLAS installed, to netlib's
    Java11BLAS: four running sums over blocks of four (each step a fused multiply-add),
    added as ``((s0 + s1) + s2) + s3``, then the remaining terms fused in one by one.
    """
    count, rows = high.shape
    blocked = count - count % 4
    sums = np.zeros((4, rows))
    for start in range(0, blocked, 4):
        sums = _add_product(high[start : start + 4], low[start : start + 4], sums)
    total = 0.0 + (((sums[0] + sums[1]) + sums[2]) + sums[3])
    for k in range(blocked, count):
        total = _add_product(high[k], low[k], total)
    return total


def _add_product(high: np.ndarray, low: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``c`` plus the exact product ``high + low``, rounded once (the end of ``_fma``)."""
    total, error = _two_sum(c, high)
    return total + _round_to_odd_sum(error, low)
