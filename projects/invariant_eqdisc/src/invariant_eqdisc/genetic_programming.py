"""Genetic programming over differential invariants (the paper's Algorithm 1) with DEAP.

PySR, the paper's GP engine, downloads Julia at run time and cannot be used offline; this module
is a DEAP 1.4 substitute with the same ingredients:

* a primitive set over the *atoms* (differential invariants for SI, raw derivatives and
  coordinates for the baseline) with ``+``, ``-``, ``*`` and, where the system needs it, a
  protected ``exp`` (argument clipped to ``[-exp_clip, exp_clip]``);
* linear-in-parameters constants: every tree is expanded into its distinct monomials (products of
  atoms and ``exp`` factors) and their coefficients, plus an intercept, are fitted by least
  squares on all sample points at once. Constants therefore only matter *inside* ``exp``: there
  they are ephemeral random constants (uniform in ``[-10, 10]``), refined by variable-projection
  least squares (``scipy.optimize.least_squares``) for the best few individuals per generation,
  much like PySR's constant optimisation;
* tournament selection, subtree crossover (``cxOnePoint``), subtree mutation (``mutUniform``)
  mixed with point mutations (node replacement, insertion, shrink), a static height limit
  against bloat, elitism;
* fitness = relative L2 error ``||y - f||_2 / ||y||_2`` (PySR's default loss, and the one the
  least-squares coefficients minimise; the relative L1 error, Algorithm 1's score for choosing
  among left-hand sides, is reported as ``l1_error_``) plus ``parsimony * complexity``, the
  complexity being the node count of the *fitted model* ``c0 + sum_k c_k m_k`` (a compact tree
  such as ``(a + b) * (c + d)`` expands into four monomials and is charged for all of them,
  which keeps least-squares overfitting in check).

:func:`match_terms` is the paper's success criterion: expand the discovered and the true
equation with sympy, drop terms whose coefficient is below 1% of the largest, and require a
one-to-one matching of the remaining terms, two terms matching when their coefficient-free parts
agree (up to a scale) within 5% relative error at 100 standard-normal points.

The DEAP run uses Python's global ``random`` generator (as DEAP does); :class:`GPRegressor`
seeds it from ``seed`` and restores its previous state afterwards, so the same seed gives the
same equation.
"""

from __future__ import annotations

import operator
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sympy
from deap import algorithms, base, creator, gp, tools

__all__ = ["GPConfig", "GPRegressor", "expanded_terms", "match_terms"]

ERC_RANGE = 10.0


def _erc() -> float:
    """Ephemeral random constant (only used inside ``exp``; see the module docstring)."""
    return round(random.uniform(-ERC_RANGE, ERC_RANGE), 3)


if not hasattr(creator, "IEDFitness"):
    creator.create("IEDFitness", base.Fitness, weights=(-1.0,))
    creator.create("IEDIndividual", gp.PrimitiveTree, fitness=creator.IEDFitness)


@dataclass
class GPConfig:
    """Budget and operators of one GP run (population x generations is the budget).

    Parameters
    ----------
    population, generations : int
        Fixed budget; ``generations`` variation rounds after the initial population.
    tournament : int
        Tournament size of the selection.
    p_crossover, p_mutation : float
        Probabilities of subtree crossover and subtree mutation (DEAP ``varAnd``).
    init_min_height, init_max_height : int
        Heights of the ramped half-and-half initial trees.
    mut_max_height : int
        Height of the random subtrees inserted by mutation.
    max_height : int
        Static height limit applied to crossover and mutation (bloat control).
    parsimony : float
        Fitness penalty per node of the fitted (expanded) model.
    max_terms : int
        Trees whose expansion has more monomials are rejected (fitness ``inf``).
    use_exp : bool
        Add the protected ``exp`` primitive and ephemeral constants (Darcy; PySR used ``exp``
        only there). ``exp`` may not be nested (trees with ``exp`` inside ``exp`` are rejected,
        like PySR's nesting constraints).
    exp_clip : float
        ``exp`` argument clip.
    n_optimize : int
        New tree skeletons per generation (best first) whose constants inside ``exp`` are
        refined by least squares; individuals sharing an optimised skeleton reuse its constants.
    n_elite : int
        Best individuals (per island) copied unchanged into the next generation.
    n_islands : int
        The population is split into this many islands (PySR also evolves many small
        populations) that exchange their ``n_migrants`` best individuals along a ring every
        ``migration_interval`` generations.
    """

    population: int = 100
    generations: int = 30
    tournament: int = 5
    p_crossover: float = 0.5
    p_mutation: float = 0.5
    init_min_height: int = 1
    init_max_height: int = 3
    mut_max_height: int = 2
    max_height: int = 6
    parsimony: float = 1e-4
    max_terms: int = 20
    use_exp: bool = False
    exp_clip: float = 20.0
    n_optimize: int = 2
    n_elite: int = 1
    n_islands: int = 1
    migration_interval: int = 5
    n_migrants: int = 1

    def __post_init__(self) -> None:
        if self.population < 2 or self.generations < 0:
            raise ValueError("GP needs population >= 2 and generations >= 0")
        if self.n_islands < 1 or self.population // self.n_islands <= self.n_elite:
            raise ValueError("each island needs more individuals than n_elite")
        if self.migration_interval < 1 or self.n_migrants < 0:
            raise ValueError("migration_interval must be >= 1 and n_migrants >= 0")


def _identifier(name: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"atom name {name!r} must be a Python identifier")
    return name


def build_primitive_set(atoms: Sequence[str], use_exp: bool, exp_clip: float) -> gp.PrimitiveSet:
    """DEAP primitive set over ``atoms`` with ``add, sub, mul`` (and protected ``exp``)."""
    pset = gp.PrimitiveSet("MAIN", len(atoms))
    pset.renameArguments(**{f"ARG{i}": _identifier(a) for i, a in enumerate(atoms)})
    pset.addPrimitive(np.add, 2, name="add")
    pset.addPrimitive(np.subtract, 2, name="sub")
    pset.addPrimitive(np.multiply, 2, name="mul")
    if use_exp:

        def pexp(z):
            return np.exp(np.clip(z, -exp_clip, exp_clip))

        pset.addPrimitive(pexp, 1, name="exp")
        pset.addEphemeralConstant("iedc", _erc)
    return pset


def _is_const(node) -> bool:
    return isinstance(type(node), gp.MetaEphemeral)


def _key(nodes) -> str:
    """Cheap unique prefix-notation key of a tree or subtree (DEAP's ``str`` is slow)."""
    return " ".join(n.name if n.arity or not _is_const(n) else repr(n.value) for n in nodes)


def _skeleton(tree) -> str:
    """Key of a tree with its constants blanked (constant optimisation is done per skeleton)."""
    return " ".join("c" if _is_const(n) else n.name for n in tree)


def _subtree_str(tree, sl: slice) -> str:
    return _key(tree[sl])


class _TooManyTerms(Exception):
    """The tree is rejected: too many monomials, or ``exp`` nested inside ``exp``."""


class _Evaluator:
    """Expands trees into monomials, fits their coefficients and scores them (vectorized)."""

    def __init__(self, x: Mapping[str, np.ndarray], y: np.ndarray, cfg: GPConfig) -> None:
        self.x = {k: np.asarray(v, dtype=float) for k, v in x.items()}
        self.y = np.asarray(y, dtype=float)
        self.n = len(self.y)
        self.y_l1 = float(np.sum(np.abs(self.y)))
        self.y_l2 = float(np.linalg.norm(self.y))
        if not self.y_l1 > 0:
            raise ValueError("the left-hand side is identically zero")
        self.cfg = cfg
        self.factors: dict[str, np.ndarray] = {}  # exp factor key -> values
        self.exp_trees: dict[str, list] = {}  # exp factor key -> argument subtree
        self.columns: dict[tuple, tuple[np.ndarray, float]] = {}  # monomial -> (unit col, norm)
        self.fitness_cache: dict[str, tuple] = {}
        self.n_evaluations = 0

    # --- numeric value of a subtree (needed inside exp)
    def numeric(self, tree, i: int):
        node = tree[i]
        if node.arity == 0:
            if _is_const(node):
                return float(node.value), i + 1
            return self.x[node.value], i + 1
        if node.name == "exp":
            a, j = self.numeric(tree, i + 1)
            return np.exp(np.clip(a, -self.cfg.exp_clip, self.cfg.exp_clip)), j
        a, j = self.numeric(tree, i + 1)
        b, k = self.numeric(tree, j)
        op = {"add": operator.add, "sub": operator.sub, "mul": operator.mul}[node.name]
        return op(a, b), k

    # --- set of monomials of a subtree (tuples of sorted factor keys)
    def expand(self, tree, i: int, factors: dict):
        node = tree[i]
        if node.arity == 0:
            return ({()} if _is_const(node) else {(node.value,)}), i + 1
        if node.name == "exp":
            sl = tree.searchSubtree(i + 1)
            if any(tree[j].name == "exp" for j in range(sl.start, sl.stop)):
                raise _TooManyTerms  # no exp inside exp (PySR-style nesting constraint)
            key = f"exp({_subtree_str(tree, sl)})"
            if key not in factors:
                val, _ = self.numeric(tree, i + 1)
                factors[key] = np.exp(np.clip(val, -self.cfg.exp_clip, self.cfg.exp_clip))
                self.exp_trees.setdefault(key, list(tree[sl]))
            return {(key,)}, sl.stop
        a, j = self.expand(tree, i + 1, factors)
        b, k = self.expand(tree, j, factors)
        if node.name in ("add", "sub"):
            out = a | b
        else:
            out = {tuple(sorted(p + q)) for p in a for q in b}
        if len(out) > self.cfg.max_terms:
            raise _TooManyTerms
        return out, k

    def _column(self, mono: tuple, factors: dict, columns: dict):
        if mono not in columns:
            v = np.ones(self.n)
            for f in mono:
                v = v * (factors[f] if f in factors else self.x[f])
            norm = float(np.linalg.norm(v))
            ok = np.isfinite(norm) and norm > 0
            columns[mono] = (v / norm if ok else None, norm)
        return columns[mono]

    def fit_tree(self, tree, factors=None, columns=None):
        """Least-squares coefficients of the tree's monomials; returns (monos, coef, pred)."""
        factors = self.factors if factors is None else factors
        columns = self.columns if columns is None else columns
        monos, _ = self.expand(tree, 0, factors)
        monos = sorted(monos - {()})
        cols, keep = [np.full(self.n, 1 / np.sqrt(self.n))], [()]
        norms = [np.sqrt(self.n)]
        for m in monos:
            # monomials of atoms only are shared by every call (also during constant fitting)
            shared = all(f in self.x for f in m)
            c, norm = self._column(m, factors, self.columns if shared else columns)
            if c is None:
                if not np.isfinite(norm):
                    return None
                continue  # identically zero monomial
            cols.append(c)
            keep.append(m)
            norms.append(norm)
        phi = np.stack(cols, axis=1)
        gamma = np.linalg.lstsq(phi, self.y, rcond=None)[0]
        return keep, gamma / np.array(norms), phi @ gamma

    def score(self, pred) -> float:
        """Relative L2 error (PySR's default loss; consistent with the least-squares fit)."""
        return float(np.linalg.norm(self.y - pred) / self.y_l2)

    def l1_error(self, pred) -> float:
        """Relative L1 error ``||y - f||_1 / ||y||_1``, Algorithm 1's score of an equation."""
        return float(np.sum(np.abs(self.y - pred)) / self.y_l1)

    def evaluate(self, tree) -> tuple[float, float]:
        """(fitness, relative L1 error), memoised by the tree's string."""
        key = _key(tree)
        if key in self.fitness_cache:
            return self.fitness_cache[key][:2]
        self.n_evaluations += 1
        try:
            with np.errstate(all="ignore"):
                res = self.fit_tree(tree)
        except (_TooManyTerms, np.linalg.LinAlgError):
            res = None
        if res is None or not np.all(np.isfinite(res[1])):
            out = (np.inf, np.inf, None)
        else:
            err = self.score(res[2])
            out = (err + self.cfg.parsimony * self.complexity(res[0]), err, (res[0], res[1]))
        self.fitness_cache[key] = out
        return out[:2]

    def complexity(self, monos) -> int:
        """Node count of the fitted model ``c0 + sum_k c_k m_k`` (each monomial: a coefficient,
        its factors, the multiplications; an ``exp`` factor counts 1 + its argument; plus the
        additions), i.e. the size of the equation actually returned, not of the tree."""
        total = 1
        for m in monos:
            if m:
                size = sum(len(self.exp_trees[f]) + 1 if f in self.exp_trees else 1 for f in m)
                total += 2 + size + len(m)
        return total

    def model(self, tree):
        self.evaluate(tree)
        return self.fitness_cache[_key(tree)][2]

    # --- constants inside exp: variable projection
    def exp_constants(self, tree) -> list[int]:
        idx = set()
        for i, node in enumerate(tree):
            if node.arity == 1 and node.name == "exp":
                sl = tree.searchSubtree(i + 1)
                idx.update(j for j in range(sl.start, sl.stop) if _is_const(tree[j]))
        return sorted(idx)

    def optimize_constants(self, tree, idx: list[int]):
        """Refine the constants at ``idx`` (inside exp) by least squares; returns a new tree."""
        from scipy.optimize import least_squares

        work = creator.IEDIndividual(tree)
        scale = np.sqrt(np.sum(self.y**2))

        def residual(c):
            for i, v in zip(idx, c):
                work[i] = _const_like(work[i], float(v))
            with np.errstate(all="ignore"):
                try:
                    res = self.fit_tree(work, factors={}, columns={})
                except _TooManyTerms:
                    res = None
            if res is None or not np.all(np.isfinite(res[2])):
                return np.full(self.n, 1e3)
            return (self.y - res[2]) / scale

        c0 = np.array([float(tree[i].value) for i in idx])
        sol = least_squares(residual, c0, method="lm", max_nfev=20 * (len(idx) + 1))
        new = creator.IEDIndividual(tree)
        for i, v in zip(idx, sol.x):
            new[i] = _const_like(tree[i], float(v))
        return new


def _const_like(node, value: float):
    """A new ephemeral-constant node of ``node``'s class holding ``value``."""
    obj = object.__new__(type(node))  # bypass __init__, which would draw a random value
    obj.value = value
    return obj


def _mutate(ind, expr, pset):
    """Subtree mutation (40%) or a point mutation: node replacement (20%), insertion of a new
    parent node (15%; turns ``exp(R)`` into ``exp(c * R)``) or shrinking, i.e. replacing a
    primitive by one of its arguments (25%; turns ``A * E_yy`` into ``E_yy``)."""
    r = random.random()
    if r < 0.4:
        return gp.mutUniform(ind, expr=expr, pset=pset)
    if r < 0.6:
        return gp.mutNodeReplacement(ind, pset=pset)
    if r < 0.75:
        return gp.mutInsert(ind, pset=pset)
    return gp.mutShrink(ind)


def _tree_to_sympy(tree, i: int, symbols: Mapping[str, sympy.Symbol]):
    node = tree[i]
    if node.arity == 0:
        if _is_const(node):
            return sympy.Float(node.value), i + 1
        return symbols[node.value], i + 1
    if node.name == "exp":
        a, j = _tree_to_sympy(tree, i + 1, symbols)
        return sympy.exp(a), j
    a, j = _tree_to_sympy(tree, i + 1, symbols)
    b, k = _tree_to_sympy(tree, j, symbols)
    return {"add": a + b, "sub": a - b, "mul": a * b}[node.name], k


class GPRegressor:
    """Symbolic regression ``y = f(atoms)`` by genetic programming (pysindy-style estimator).

    Parameters
    ----------
    atoms : sequence of str
        Names of the input variables (identifiers), keys of the data passed to :meth:`fit`.
    config : GPConfig, optional
    seed : int
        Seeds DEAP's ``random`` (state restored afterwards); same seed, same equation.

    Attributes
    ----------
    expr_ : sympy.Expr
        The best equation's right-hand side (least-squares coefficients, intercept included).
    error_ : float
        Its relative L2 error on the training points (the fitted loss).
    l1_error_ : float
        Its relative L1 error ``||y - f||_1 / ||y||_1`` (Algorithm 1's score).
    history_ : list of dict
        Per generation (0 = initial population): ``fitness``, ``error``, ``tree`` (string) of the
        best individual so far.
    n_evaluations_ : int
        Number of distinct trees evaluated.
    n_inputs_ : int
        Number of atoms (the paper's C counts these plus the left-hand side).
    """

    def __init__(self, atoms: Sequence[str], config: GPConfig | None = None, seed: int = 0):
        self.atoms = list(atoms)
        self.config = config or GPConfig()
        self.seed = seed

    def _toolbox(self, pset):
        c = self.config
        tb = base.Toolbox()
        tb.register(
            "expr", gp.genHalfAndHalf, pset=pset, min_=c.init_min_height, max_=c.init_max_height
        )
        tb.register("individual", tools.initIterate, creator.IEDIndividual, tb.expr)
        tb.register("population", tools.initRepeat, list, tb.individual)
        tb.register("select", tools.selTournament, tournsize=c.tournament)
        tb.register("mate", gp.cxOnePoint)
        tb.register("expr_mut", gp.genFull, min_=0, max_=c.mut_max_height)
        tb.register("mutate", _mutate, expr=tb.expr_mut, pset=pset)
        limit = gp.staticLimit(key=operator.attrgetter("height"), max_value=c.max_height)
        tb.decorate("mate", limit)
        tb.decorate("mutate", limit)
        return tb

    def fit(self, x: Mapping[str, np.ndarray], y: np.ndarray) -> GPRegressor:
        """Run the GP on samples ``x[atom]`` (1-D arrays) and target ``y``."""
        missing = [a for a in self.atoms if a not in x]
        if missing:
            raise KeyError(f"data lacks the atoms {missing}")
        y = np.asarray(y, dtype=float)
        data = {a: np.asarray(x[a], dtype=float).ravel() for a in self.atoms}
        ok = np.isfinite(y) & np.all([np.isfinite(v) for v in data.values()], axis=0)
        if not ok.all():
            raise ValueError(f"{int((~ok).sum())} sample points are not finite")
        c = self.config
        pset = build_primitive_set(self.atoms, c.use_exp, c.exp_clip)
        ev = _Evaluator(data, y, c)
        tb = self._toolbox(pset)
        state = random.getstate()
        random.seed(self.seed)
        size = c.population // c.n_islands
        try:
            islands = [tb.population(n=size) for _ in range(c.n_islands)]
            for pop in islands:
                self._assign(pop, ev)
            history = [self._record(islands, ev)]
            optimized: dict[str, list[float]] = {}
            for gen in range(1, c.generations + 1):
                for k, pop in enumerate(islands):
                    elite = [tb.clone(ind) for ind in tools.selBest(pop, c.n_elite)]
                    offspring = algorithms.varAnd(
                        tb.select(pop, size - c.n_elite), tb, c.p_crossover, c.p_mutation
                    )
                    self._assign(offspring, ev)
                    islands[k] = elite + offspring
                    if c.use_exp and c.n_optimize:
                        self._optimize(islands[k], ev, optimized)
                if c.n_islands > 1 and gen % c.migration_interval == 0:
                    tools.migRing(islands, c.n_migrants, tools.selBest)
                history.append(self._record(islands, ev))
        finally:
            random.setstate(state)
        pop = [ind for isl in islands for ind in isl]
        best = tools.selBest(pop, 1)[0]
        self.best_tree_ = str(best)
        self._ev = ev
        monos, coef = ev.model(best)
        self.expr_ = self._model_to_sympy(monos, coef, ev)
        self.error_ = ev.evaluate(best)[1]
        with np.errstate(all="ignore"):
            self.l1_error_ = ev.l1_error(ev.fit_tree(best)[2])
        self.history_ = history
        self.n_evaluations_ = ev.n_evaluations
        self.n_inputs_ = len(self.atoms)
        return self

    @staticmethod
    def _assign(inds, ev):
        for ind in inds:
            if not ind.fitness.valid:
                ind.fitness.values = (ev.evaluate(ind)[0],)

    def _optimize(self, pop, ev, optimized: dict):
        """Refine constants inside ``exp``: the ``n_optimize`` best individuals with a new
        skeleton (tree with constants blanked) are optimised; every individual whose skeleton
        was optimised before gets the optimised constants when they fit better."""
        order = sorted(range(len(pop)), key=lambda i: pop[i].fitness.values[0])
        done = 0
        for i in order:
            if not np.isfinite(pop[i].fitness.values[0]):
                continue
            idx = ev.exp_constants(pop[i])
            if not idx:
                continue
            skel = _skeleton(pop[i])
            if skel in optimized:
                values = optimized[skel]
                if all(float(pop[i][j].value) == v for j, v in zip(idx, values)):
                    continue
                new = creator.IEDIndividual(pop[i])
                for j, v in zip(idx, values):
                    new[j] = _const_like(new[j], v)
            elif done < self.config.n_optimize:
                done += 1
                new = ev.optimize_constants(pop[i], idx)
                optimized[skel] = [float(new[j].value) for j in idx]
            else:
                continue
            fit = ev.evaluate(new)[0]
            if fit < pop[i].fitness.values[0]:
                new.fitness.values = (fit,)
                pop[i] = new

    def _record(self, islands, ev) -> dict:
        best = tools.selBest([ind for isl in islands for ind in isl], 1)[0]
        fit, err = ev.evaluate(best)
        return {"fitness": fit, "error": err, "tree": _key(best), "model": ev.model(best)}

    def _symbols(self):
        return {a: sympy.Symbol(a, real=True) for a in self.atoms}

    def _model_to_sympy(self, monos, coef, ev) -> sympy.Expr:
        syms = self._symbols()
        out = sympy.Integer(0)
        for m, c in zip(monos, coef):
            term = sympy.Float(float(c))
            for f in m:
                if f in ev.exp_trees:
                    term *= sympy.exp(_tree_to_sympy(ev.exp_trees[f], 0, syms)[0])
                else:
                    term *= syms[f]
            out += term
        return out

    def history_exprs(self) -> list[sympy.Expr]:
        """sympy equation of the best individual of every generation."""
        return [self._model_to_sympy(*h["model"], self._ev) for h in self.history_]

    def predict(self, x: Mapping[str, np.ndarray]) -> np.ndarray:
        syms = sorted(self.expr_.free_symbols, key=lambda s: s.name)
        fn = sympy.lambdify(syms, self.expr_, "numpy")
        shape = np.shape(next(iter(x.values())))
        with np.errstate(all="ignore"):
            return np.broadcast_to(fn(*(np.asarray(x[s.name]) for s in syms)), shape)


# ----------------------------------------------------------------------------- term matching


def expanded_terms(expr: sympy.Expr, drop: float = 0.01) -> list[tuple[float, sympy.Expr]]:
    """``(coefficient, coefficient-free part)`` of the sympy-expanded ``expr``; terms whose
    coefficient is below ``drop`` times the largest are dropped (the paper's rule)."""
    terms = []
    for t in sympy.Add.make_args(sympy.expand(sympy.sympify(expr))):
        c, rest = t.as_coeff_Mul()
        if c.is_number and float(c) != 0:
            terms.append((float(c), rest))
    if not terms:
        return []
    big = max(abs(c) for c, _ in terms)
    return [(c, r) for c, r in terms if abs(c) >= drop * big]


def _shape_error(a: np.ndarray, b: np.ndarray) -> float:
    """``min_s ||s a - b|| / ||b||`` (coefficients are ignored, as in the SP metric)."""
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return np.inf
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return 0.0 if na == nb else np.inf
    cos = abs(float(a @ b)) / (na * nb)
    return float(np.sqrt(max(0.0, 1 - min(cos, 1.0) ** 2)))


def match_terms(
    discovered: sympy.Expr,
    truth: sympy.Expr,
    rel_tol: float = 0.05,
    drop: float = 0.01,
    n_points: int = 100,
    seed: int = 0,
) -> bool:
    """The paper's GP success criterion: equal term sets after sympy expansion.

    Both expressions are expanded into terms, terms below ``drop`` of the largest coefficient are
    dropped, and every remaining term must match exactly one term of the other side: their
    coefficient-free parts agree (up to a scale) within ``rel_tol`` at ``n_points``
    standard-normal points of all the symbols involved.
    """
    # symbols are identified by name (a user's Symbol("z") and our real Symbol("z") are one)
    canon: dict[str, sympy.Symbol] = {}

    def named(e):
        e = sympy.sympify(e)
        return e.xreplace(
            {s: canon.setdefault(s.name, sympy.Symbol(s.name, real=True)) for s in e.free_symbols}
        )

    d, t = expanded_terms(named(discovered), drop), expanded_terms(named(truth), drop)
    if len(d) != len(t):
        return False
    if not d:
        return True
    syms = sorted(
        set().union(*(r.free_symbols for _, r in d + t)) or {sympy.Symbol("_")},
        key=lambda s: s.name,
    )
    rng = np.random.default_rng(seed)
    pts = rng.standard_normal((len(syms), n_points))

    def values(r):
        fn = sympy.lambdify(syms, r, "numpy")
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.asarray(fn(*pts), dtype=float), (n_points,))

    vd, vt = [values(r) for _, r in d], [values(r) for _, r in t]
    cost = np.array([[_shape_error(a, b) for b in vt] for a in vd])
    from scipy.optimize import linear_sum_assignment

    ok = cost <= rel_tol
    rows, cols = linear_sum_assignment(np.where(ok, 0.0, 1.0))
    return bool(np.all(ok[rows, cols]))
