"""Dependency graphs: over definitions (a pipeline) and over array children.

Pure functions on names and ids; errors name the cycle or both ends of a missing edge.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from ..errors import DependencyError

__all__ = ["child_dependencies", "find_cycle", "plan_pipeline", "topological_order"]


def find_cycle(edges: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle as a closed path ``[a, b, ..., a]`` (node → its dependencies), or None."""
    white, grey, black = 0, 1, 2
    color: dict[str, int] = {}
    for root in edges:
        if color.get(root, white) != white:
            continue
        stack: list[tuple[str, list[str]]] = [(root, list(edges.get(root, ())))]
        path = [root]
        color[root] = grey
        while stack:
            node, todo = stack[-1]
            if not todo:
                color[node] = black
                stack.pop()
                path.pop()
                continue
            nxt = todo.pop(0)
            state = color.get(nxt, white)
            if state == grey:
                return [*path[path.index(nxt) :], nxt]
            if state == white and nxt in edges:
                color[nxt] = grey
                path.append(nxt)
                stack.append((nxt, list(edges.get(nxt, ()))))
    return None


def topological_order(edges: Mapping[str, Sequence[str]]) -> list[str]:
    """Dependencies first; ties keep the mapping's order (so runs are reproducible).

    One depth-first pass both orders the nodes and finds a cycle (named in the error).
    """
    order: list[str] = []
    state: dict[str, bool] = {}  # False: on the current path; True: placed
    for root in edges:
        if root in state:
            continue
        state[root] = False
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(edges[root]))]
        while stack:
            node, deps = stack[-1]
            for dep in deps:
                placed = state.get(dep)
                if placed is None:
                    if dep in edges:
                        state[dep] = False
                        stack.append((dep, iter(edges[dep])))
                        break
                elif not placed:
                    path = [n for n, _ in stack]
                    cycle = [*path[path.index(dep) :], dep]
                    raise DependencyError(
                        f"dependency cycle: {' → '.join(cycle)}; remove one of these edges"
                    )
            else:
                state[node] = True
                order.append(node)
                stack.pop()
    return order


def plan_pipeline(
    depends_on: Mapping[str, Sequence[str]], targets: Sequence[str] | None = None
) -> list[str]:
    """The targets and everything upstream of them, dependencies first.

    ``depends_on`` maps each registered definition to the names it depends on. Raises
    DependencyError for an unknown target, a dependency on an unregistered definition (naming
    both ends), or a cycle (naming it).
    """
    wanted = list(depends_on) if targets is None else list(dict.fromkeys(targets))
    unknown = [t for t in wanted if t not in depends_on]
    if unknown:
        known = ", ".join(depends_on) or "none registered yet"
        raise DependencyError(f"unknown job definition(s) {', '.join(unknown)}; known: {known}")
    closure: dict[str, Sequence[str]] = {}
    missing: list[tuple[str, str]] = []
    if targets is None:  # everything: no walk needed, only the missing ends
        closure = dict(depends_on)
        missing = [(n, d) for n, deps in depends_on.items() for d in deps if d not in depends_on]
    stack = [] if targets is None else list(reversed(wanted))
    while stack:
        name = stack.pop()
        if name in closure:
            continue
        closure[name] = depends_on[name]
        for dep in depends_on[name]:
            if dep not in depends_on:
                missing.append((name, dep))
            elif dep not in closure:
                stack.append(dep)
    if missing:
        text = "; ".join(f"{src} depends on {dep}, which is not registered" for src, dep in missing)
        raise DependencyError(f"missing dependency: {text}. Register it or remove the dependency")
    # Keep the registration order of depends_on for a stable plan.
    ordered = {name: closure[name] for name in depends_on if name in closure}
    return topological_order(ordered)


def child_dependencies(
    parent_id: str,
    index: int,
    plain: Sequence[str],
    n_to_n: Sequence[str],
    sequential: bool,
) -> list[str]:
    """Job ids child ``index`` of array ``parent_id`` waits for.

    ``plain`` are whole jobs (an array dependency there means all of its children); ``n_to_n``
    are arrays of the same size whose child ``index`` this child waits for; ``sequential`` makes
    each child wait for the previous one, as AWS Batch's SEQUENTIAL type does.
    """
    deps = list(plain)
    deps.extend(f"{upstream}:{index}" for upstream in n_to_n)
    if sequential and index > 0:
        deps.append(f"{parent_id}:{index - 1}")
    return deps
