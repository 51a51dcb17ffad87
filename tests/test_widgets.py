"""Spec of course_utils.widgets.interactive_figure: controls above a figure that is redrawn when they change."""

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pytest

from course_utils.widgets import interactive_figure


class RecordingDraw:
    """A draw function that records the keyword arguments of every call and returns a new figure."""

    def __init__(self):
        self.calls = []

    def __call__(self, **values):
        self.calls.append(values)
        fig, ax = plt.subplots()
        ax.set_title(repr(values))
        return fig


def test_interactive_figure_draws_once_with_the_initial_values():
    draw = RecordingDraw()
    interactive_figure(draw, sigma=widgets.FloatSlider(value=2.0, min=0.5, max=6.0))
    assert draw.calls == [{"sigma": 2.0}]


def test_changing_the_slider_redraws_with_the_new_value():
    draw = RecordingDraw()
    slider = widgets.FloatSlider(value=2.0, min=0.5, max=6.0)
    interactive_figure(draw, sigma=slider)
    slider.value = 3.5
    assert draw.calls[-1] == {"sigma": 3.5}
    assert len(draw.calls) == 2
    slider.value = 1.0
    assert draw.calls[-1] == {"sigma": 1.0}
    assert len(draw.calls) == 3


def test_each_control_is_passed_by_its_keyword_and_any_change_redraws():
    draw = RecordingDraw()
    slider = widgets.IntSlider(value=3, min=1, max=9)
    dropdown = widgets.Dropdown(options=["mean", "gaussian"], value="mean")
    interactive_figure(draw, size=slider, kind=dropdown)
    dropdown.value = "gaussian"
    assert draw.calls == [{"size": 3, "kind": "mean"}, {"size": 3, "kind": "gaussian"}]


def test_interactive_figure_returns_a_box_with_the_controls_above_the_output():
    slider = widgets.FloatSlider()
    box = interactive_figure(RecordingDraw(), sigma=slider)
    assert isinstance(box, widgets.VBox)
    controls, output = box.children
    assert list(controls.children) == [slider]
    assert isinstance(output, widgets.Output)


@pytest.mark.parametrize("control", [2.0, "slider", [1, 2, 3], widgets.Button(description="go")])
def test_a_control_that_is_not_a_value_widget_raises_type_error(control):
    with pytest.raises(TypeError, match="control 'sigma' must be an ipywidgets control"):
        interactive_figure(RecordingDraw(), sigma=control)


@pytest.mark.parametrize("draw", [None, "draw", 3])
def test_a_draw_that_is_not_callable_raises_type_error(draw):
    with pytest.raises(TypeError, match="draw must be a function"):
        interactive_figure(draw, sigma=widgets.FloatSlider())


def test_no_controls_raises_value_error_with_an_example():
    with pytest.raises(ValueError, match="FloatSlider"):
        interactive_figure(RecordingDraw())


def test_a_draw_that_returns_none_raises_type_error_asking_for_the_figure():
    # Outside a kernel the error propagates; in Jupyter the Output widget shows it under the controls.
    def draw(sigma):
        plt.figure()

    with pytest.raises(TypeError, match="returned None"):
        interactive_figure(draw, sigma=widgets.FloatSlider())
