"""Interactive figures: controls (sliders, drop-downs) above a matplotlib figure that is redrawn on change.

Widgets need a live kernel: on GitHub or in a static slide deck they do not render, so every notebook that uses
one also draws a static figure of a few settings next to it.
"""

from __future__ import annotations

from collections.abc import Callable


def interactive_figure(draw: Callable, **controls):
    """Show ``controls`` in a row and, below them, the figure returned by ``draw(**values)``.

    ``controls`` maps each keyword argument of ``draw`` to an ipywidgets control, e.g.
    ``interactive_figure(draw, sigma=FloatSlider(value=2, min=0.5, max=6))``. The figure is redrawn
    whenever a control changes. Returns the widget box (displayed already).
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    if not callable(draw):
        raise TypeError(f"draw must be a function that returns a matplotlib Figure, got {type(draw).__name__}")
    if not controls:
        raise ValueError("give at least one control, e.g. sigma=ipywidgets.FloatSlider(min=0.5, max=5)")
    for name, control in controls.items():
        if not isinstance(control, w.ValueWidget):
            raise TypeError(
                f"control {name!r} must be an ipywidgets control such as FloatSlider or Dropdown, "
                f"got {type(control).__name__}"
            )

    out = w.Output()

    def redraw(**values):
        with out:
            out.clear_output(wait=True)
            fig = draw(**values)
            if fig is None:
                raise TypeError("draw(...) returned None: it must return the matplotlib Figure it made")
            plt.show()

    w.interactive_output(redraw, controls)
    box = w.VBox([w.HBox(list(controls.values())), out])
    display(box)
    return box
