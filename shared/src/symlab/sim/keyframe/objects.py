"""MJCF bodies of the keyframe suite, built from primitives (no robosuite import).

Every builder returns an :class:`ObjectSpec`: the inner XML of one body (geoms, sites, nested
bodies with joints) and whether the body is free (gets a free joint ``<name>_joint0``) or a fixture
(static, moved per episode through ``Scene.fixture_poses``). robosuite prefixes every name with
``<name>_`` and renames the root body to ``<name>_main``.

Geoms in group 0 collide; robosuite adds a rendered copy of each in group 1 named
``<geom>_visual``. Visual-only geoms (target pads, markers) are written in group 1 with
``contype = conaffinity = 0``. Colours are only defaults: tasks recolour the rendered geoms per
episode through ``Scene.geom_rgba``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "COLOURS",
    "ObjectSpec",
    "block",
    "bowl",
    "button_panel",
    "cabinet",
    "jar",
    "jar_lid",
    "peg_stand",
    "pedestal",
    "peg_socket",
    "square_peg",
    "square_ring",
    "square_tube",
    "target_pad",
    "target_sphere",
]

#: Named colours (RLBench-style names), RGBA in [0, 1].
COLOURS: dict[str, tuple[float, float, float, float]] = {
    "red": (0.9, 0.1, 0.1, 1.0),
    "green": (0.1, 0.75, 0.15, 1.0),
    "blue": (0.1, 0.25, 0.9, 1.0),
    "yellow": (0.95, 0.85, 0.1, 1.0),
    "cyan": (0.1, 0.85, 0.85, 1.0),
    "magenta": (0.85, 0.1, 0.85, 1.0),
    "orange": (1.0, 0.5, 0.05, 1.0),
    "purple": (0.45, 0.15, 0.65, 1.0),
    "white": (0.95, 0.95, 0.95, 1.0),
    "black": (0.08, 0.08, 0.08, 1.0),
    "gray": (0.5, 0.5, 0.5, 1.0),
    "pink": (1.0, 0.55, 0.7, 1.0),
}

WOOD = (0.6, 0.45, 0.3, 1.0)
METAL = (0.25, 0.25, 0.28, 1.0)


@dataclass(frozen=True)
class ObjectSpec:
    """One MuJoCo object of a task scene (hashable, so robosuite env kwargs stay cacheable).

    Attributes
    ----------
    name : str
        Object name; robosuite bodies become ``<name>_main`` (root) and ``<name>_<body>``.
    body_xml : str
        Inner XML of the root body.
    free : bool
        Free joint (``<name>_joint0``) if True, else a static fixture.
    """

    name: str
    body_xml: str
    free: bool


def _fmt(v) -> str:
    return " ".join(f"{float(x):.5f}" for x in np.atleast_1d(v))


def _rgba(c) -> str:
    return _fmt(c)


def box_geom(name, pos, half, rgba, visual=False, **attrs) -> str:
    """A box geom (collision + visual unless ``visual``)."""
    return _geom(name, "box", pos, half, rgba, visual, **attrs)


def cyl_geom(name, pos, radius, half_height, rgba, visual=False, **attrs) -> str:
    """A cylinder geom along the local z axis."""
    return _geom(name, "cylinder", pos, (radius, half_height), rgba, visual, **attrs)


def _geom(name, kind, pos, size, rgba, visual, **attrs) -> str:
    extra = "".join(f' {k}="{v}"' for k, v in attrs.items())
    if visual:
        extra += ' group="1" contype="0" conaffinity="0" mass="0"'
    else:
        extra += ' group="0"'
    return (
        f'<geom name="{name}" type="{kind}" pos="{_fmt(pos)}" size="{_fmt(size)}" '
        f'rgba="{_rgba(rgba)}"{extra}/>'
    )


def site(name, pos, size=0.005, rgba=(1, 0, 0, 0)) -> str:
    """An invisible marker site."""
    return f'<site name="{name}" pos="{_fmt(pos)}" size="{size}" rgba="{_rgba(rgba)}" group="1"/>'


# ---------------------------------------------------------------------- free objects
def block(name: str, half: float = 0.02, rgba=COLOURS["red"], density: float = 400.0):
    """A cube with half size ``half`` (origin at its centre); geom ``<name>_g``."""
    xml = box_geom(
        "g",
        (0, 0, 0),
        (half, half, half),
        rgba,
        density=density,
        friction="1.2 0.005 0.0001",
        solref="0.01 1",
    )
    return ObjectSpec(name, xml, True)


def square_ring(
    name: str,
    outer: float = 0.045,
    inner: float = 0.03,
    half_height: float = 0.01,
    handle_length: float = 0.06,
    handle_half_width: float = 0.01,
    rgba=COLOURS["orange"],
):
    """A square frame (hole half size ``inner``) with a straight handle along +x.

    Origin at the centre of the hole, mid-height. Sites ``<name>_handle`` (grasp point at the
    middle of the handle) and ``<name>_center``.
    """
    w = (outer - inner) / 2  # half wall thickness
    c = (outer + inner) / 2  # wall centre line
    hh = half_height
    kw = dict(density=300.0, friction="1.2 0.005 0.0001", solref="0.01 1")
    g = [
        box_geom("wall_px", (c, 0, 0), (w, outer, hh), rgba, **kw),
        box_geom("wall_nx", (-c, 0, 0), (w, outer, hh), rgba, **kw),
        box_geom("wall_py", (0, c, 0), (inner, w, hh), rgba, **kw),
        box_geom("wall_ny", (0, -c, 0), (inner, w, hh), rgba, **kw),
        box_geom(
            "handle",
            (outer + handle_length / 2, 0, 0),
            (handle_length / 2, handle_half_width, hh),
            rgba,
            **kw,
        ),
        site("handle", (outer + handle_length / 2, 0, 0)),
        site("center", (0, 0, 0)),
    ]
    return ObjectSpec(name, "".join(g), True)


def jar_lid(name: str, radius: float = 0.042, rgba=METAL):
    """A lid: a disk with a plug underneath (fits a jar mouth) and a knob on top.

    Origin at the bottom of the disk (the face resting on the jar rim). Site ``<name>_knob``.
    """
    kw = dict(density=500.0, friction="1.2 0.005 0.0001", solref="0.01 1")
    g = [
        cyl_geom("disk", (0, 0, 0.005), radius, 0.005, rgba, **kw),
        cyl_geom("plug", (0, 0, -0.006), radius * 0.55, 0.006, rgba, **kw),
        cyl_geom("knob", (0, 0, 0.025), 0.012, 0.015, rgba, **kw),
        site("knob", (0, 0, 0.028)),
    ]
    return ObjectSpec(name, "".join(g), True)


# ---------------------------------------------------------------------- fixtures
def target_pad(name: str, half: float = 0.05, rgba=COLOURS["green"]):
    """A flat, visual-only square on the table (origin on the table surface)."""
    return ObjectSpec(name, box_geom("g", (0, 0, 0.001), (half, half, 0.001), rgba, True), False)


def target_sphere(name: str, radius: float = 0.03, rgba=(0.2, 0.9, 0.2, 0.35)):
    """A translucent visual-only sphere (the lift target of ``pick_and_lift``)."""
    xml = _geom("g", "sphere", (0, 0, 0), (radius,), rgba, True)
    return ObjectSpec(name, xml, False)


def _ring_walls(prefix, radius, thickness, half_height, z, n, rgba, **kw) -> list[str]:
    """A cylindrical wall approximated by ``n`` boxes."""
    half_len = (radius + thickness) * np.tan(np.pi / n) * 1.02
    out = []
    for i in range(n):
        a = 2 * np.pi * i / n
        r = radius + thickness / 2
        q = (np.cos(a / 2), 0, 0, np.sin(a / 2))
        out.append(
            box_geom(
                f"{prefix}{i}",
                (r * np.cos(a), r * np.sin(a), z),
                (thickness / 2, half_len, half_height),
                rgba,
                quat=_fmt(q),
                **kw,
            )
        )
    return out


def bowl(name: str, radius: float = 0.075, height: float = 0.04, rgba=COLOURS["white"]):
    """A static open bowl (floor plus a wall of boxes); origin on the table at its centre."""
    t = 0.008
    g = [cyl_geom("floor", (0, 0, 0.004), radius + t, 0.004, rgba)]
    g += _ring_walls("wall", radius, t, height / 2, height / 2, 16, rgba)
    g.append(site("center", (0, 0, 0.01)))
    return ObjectSpec(name, "".join(g), False)


def jar(name: str, radius: float = 0.03, height: float = 0.08, rgba=COLOURS["red"]):
    """A static open jar (inner radius ``radius``); origin on the table at its axis.

    Site ``<name>_rim`` at the centre of the mouth.
    """
    t = 0.006
    g = [cyl_geom("base", (0, 0, 0.005), radius + t, 0.005, rgba)]
    g += _ring_walls("wall", radius, t, height / 2, height / 2, 14, rgba)
    g.append(site("rim", (0, 0, height)))
    return ObjectSpec(name, "".join(g), False)


def peg_stand(
    name: str,
    n_pegs: int = 3,
    spacing: float = 0.12,
    peg_half: float = 0.015,
    peg_height: float = 0.08,
    rgba=WOOD,
):
    """A base plate with ``n_pegs`` square pegs along y; origin on the table at the centre.

    Geoms ``<name>_peg<i>`` (recoloured per variation) and sites ``<name>_peg<i>_top``.
    """
    half_len = spacing * (n_pegs - 1) / 2 + 0.04
    g = [box_geom("base", (0, 0, 0.005), (0.04, half_len, 0.005), rgba)]
    for i in range(n_pegs):
        y = (i - (n_pegs - 1) / 2) * spacing
        g.append(
            box_geom(
                f"peg{i}",
                (0, y, 0.01 + peg_height / 2),
                (peg_half, peg_half, peg_height / 2),
                COLOURS["gray"],
            )
        )
        g.append(site(f"peg{i}_top", (0, y, 0.01 + peg_height)))
    return ObjectSpec(name, "".join(g), False)


def button_panel(name: str, base_half: float = 0.03, cap_radius: float = 0.02, travel=0.012):
    """One push button: a static base with a cap on a vertical slide joint.

    The cap stays where it is pushed (gravity-compensated, joint friction, no spring): a
    pressed button stays pressed for the rest of the episode, so the task can read the press
    state from the simulator state at any time. Origin on the table. Joint ``<name>_press``
    (0 up, ``-travel`` fully pressed), cap geom ``<name>_cap`` (rendered copy
    ``<name>_cap_visual``), site ``<name>_top`` on the cap's top face.
    """
    bh = 0.015  # half height of the base
    cap_h = 0.008
    # Collision bits: base and cap both touch the robot (contype 1) but not each other
    # (conaffinity 2), so the cap can sink into the base.
    bits = dict(contype="1", conaffinity="2")
    g = [box_geom("base", (0, 0, bh), (base_half, base_half, bh), METAL, **bits)]
    cap = (
        f'<body name="cap" pos="0 0 {2 * bh + cap_h + 0.001:.5f}" gravcomp="1">'
        f'<joint name="press" type="slide" axis="0 0 1" range="{-travel:.4f} 0" limited="true" '
        f'damping="5" frictionloss="0.5" armature="0.01"/>'
        f'<inertial pos="0 0 0" mass="0.02" diaginertia="1e-5 1e-5 1e-5"/>'
        + cyl_geom(
            "cap", (0, 0, 0), cap_radius, cap_h, COLOURS["red"], friction="1 0.005 0.0001", **bits
        )
        + site("top", (0, 0, cap_h))
        + "</body>"
    )
    return ObjectSpec(name, "".join(g) + cap, False)


def cabinet(
    name: str,
    width: float = 0.28,
    depth: float = 0.22,
    drawer_height: float = 0.12,
    plinth: float = 0.02,
    n_drawers: int = 3,
    rgba=WOOD,
):
    """A cabinet with ``n_drawers`` stacked drawers on slide joints; its front faces local -x.

    Origin on the table at the centre of the footprint. Drawer ``d`` (0 = bottom) is body
    ``<name>_drawer<d>`` with joint ``<name>_slide<d>`` (opening distance in metres, towards
    -x), a vertical bar handle (geom ``<name>_handle<d>``, site ``<name>_handle<d>``, the grasp
    point) and site ``<name>_inside<d>`` on the drawer floor.
    """
    t = 0.01  # wall thickness
    H = plinth + n_drawers * drawer_height + t
    W2, D2 = width / 2, depth / 2
    kw = dict(friction="1 0.005 0.0001")
    g = [
        box_geom("plinth", (0, 0, plinth / 2), (D2, W2, plinth / 2), rgba, **kw),
        box_geom("top", (0, 0, H - t / 2), (D2, W2, t / 2), rgba, **kw),
        box_geom("left", (0, -W2 + t / 2, H / 2), (D2, t / 2, H / 2), rgba, **kw),
        box_geom("right", (0, W2 - t / 2, H / 2), (D2, t / 2, H / 2), rgba, **kw),
        box_geom("back", (D2 - t / 2, 0, H / 2), (t / 2, W2, H / 2), rgba, **kw),
    ]
    for i in range(1, n_drawers):
        g.append(
            box_geom(
                f"shelf{i}",
                (t / 2, 0, plinth + i * drawer_height),
                (D2 - t / 2, W2 - t, 0.003),
                rgba,
                **kw,
            )
        )
    c = 0.004  # clearance between drawer and carcass
    hh = drawer_height - 0.006 - 2 * c  # drawer box height
    dw = W2 - t - c  # half width
    dd = D2 - t / 2 - c  # half depth
    x0 = -t / 2  # drawer centre (clear of the back wall)
    wall = 0.005
    handle_off = 0.035  # handle bar distance in front of the drawer face
    bar_half_len = 0.03
    for d in range(n_drawers):
        z0 = plinth + d * drawer_height + 0.003 + c
        hx = -dd - handle_off
        hz = hh / 2
        inner = [
            box_geom(f"floor{d}", (0, 0, wall / 2), (dd, dw, wall / 2), rgba, **kw),
            box_geom(f"front{d}", (-dd + wall / 2, 0, hh / 2), (wall / 2, dw, hh / 2), rgba, **kw),
            box_geom(
                f"rear{d}", (dd - wall / 2, 0, hh * 0.4), (wall / 2, dw, hh * 0.4), rgba, **kw
            ),
            box_geom(
                f"lwall{d}", (0, -dw + wall / 2, hh * 0.4), (dd, wall / 2, hh * 0.4), rgba, **kw
            ),
            box_geom(
                f"rwall{d}", (0, dw - wall / 2, hh * 0.4), (dd, wall / 2, hh * 0.4), rgba, **kw
            ),
            box_geom(
                f"handle{d}",
                (hx, 0, hz),
                (0.006, 0.006, bar_half_len),
                METAL,
                friction="1.5 0.005 0.0001",
            ),
            box_geom(
                f"post{d}a",
                ((hx - dd) / 2, 0, hz + bar_half_len - 0.005),
                ((handle_off - 0.006) / 2 + 0.001, 0.005, 0.005),
                METAL,
            ),
            box_geom(
                f"post{d}b",
                ((hx - dd) / 2, 0, hz - bar_half_len + 0.005),
                ((handle_off - 0.006) / 2 + 0.001, 0.005, 0.005),
                METAL,
            ),
            site(f"handle{d}", (hx, 0, hz)),
            site(f"inside{d}", (0, 0, wall)),
        ]
        travel = 2 * dd * 0.9
        g.append(
            f'<body name="drawer{d}" pos="{x0:.5f} 0 {z0:.5f}">'
            f'<joint name="slide{d}" type="slide" axis="-1 0 0" range="0 {travel:.4f}" '
            f'limited="true" damping="10" frictionloss="0.5" armature="0.05"/>'
            f'<inertial pos="0 0 {hh / 2:.4f}" mass="0.6" diaginertia="0.004 0.004 0.004"/>'
            + "".join(inner)
            + "</body>"
        )
    return ObjectSpec(name, "".join(g), False)


def square_peg(name: str, half: float = 0.01, half_length: float = 0.06, rgba=COLOURS["orange"]):
    """A square rod along its local z (origin at its centre); site ``<name>_top``."""
    xml = box_geom(
        "g",
        (0, 0, 0),
        (half, half, half_length),
        rgba,
        density=600.0,
        friction="1.5 0.005 0.0001",
        solref="0.01 1",
    ) + site("top", (0, 0, half_length))
    return ObjectSpec(name, xml, True)


def _square_tube(prefix, inner, wall, depth, rgba) -> list[str]:
    """Floor and four walls of an open square tube along +z (origin at the floor's top)."""
    h = depth / 2
    o = inner + wall / 2
    return [
        box_geom(f"{prefix}floor", (0, 0, -wall / 2), (inner + wall, inner + wall, wall / 2), rgba),
        box_geom(f"{prefix}wx0", (o, 0, h), (wall / 2, inner + wall, h), rgba),
        box_geom(f"{prefix}wx1", (-o, 0, h), (wall / 2, inner + wall, h), rgba),
        box_geom(f"{prefix}wy0", (0, o, h), (inner, wall / 2, h), rgba),
        box_geom(f"{prefix}wy1", (0, -o, h), (inner, wall / 2, h), rgba),
    ]


def peg_socket(name: str, inner: float = 0.013, depth: float = 0.03, rgba=WOOD):
    """A static square socket holding a peg upright; origin on the table at its centre."""
    g = _square_tube("", inner, 0.008, depth, rgba)
    return ObjectSpec(name, f'<body name="cup" pos="0 0 0.008">{"".join(g)}</body>', False)


def square_tube(name: str, inner: float = 0.016, depth: float = 0.05, rgba=COLOURS["blue"]):
    """A static open square tube (a hole of half width ``inner`` and depth ``depth``) along its
    local +z, origin on the top of its floor; sites ``<name>_entry`` (centre of the mouth) and
    ``<name>_floor``. Tilt it with its fixture pose."""
    g = _square_tube("", inner, 0.008, depth, rgba)
    g += [site("entry", (0, 0, depth)), site("floor", (0, 0, 0))]
    return ObjectSpec(name, "".join(g), False)


def pedestal(name: str, half: float = 0.035, height: float = 0.05, rgba=WOOD):
    """A static box standing on the table (origin on the table at its centre)."""
    return ObjectSpec(
        name, box_geom("g", (0, 0, height / 2), (half, half, height / 2), rgba), False
    )
