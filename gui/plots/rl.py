"""Reinforcement-learning progress: reward per episode, its moving mean, length, epsilon, loss.

Episode rewards are noisy enough that the raw points (faint) say little alone;
the mean of the last `window` episodes (bright) is what shows learning. When
the run finishes, the greedy evaluation (`eval_*` metrics of Finished) is drawn
as a dashed level on the reward plot and written out above the plots.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Slot
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from engine.training import Episode, Finished
from gui.plots import style
from gui.plots.base import PlotPanel
from gui.plots.buffers import DEFAULT_CAP, MovingMean, Series


def describe_evaluation(metrics: dict) -> str:
    """The greedy evaluation as one line, from the eval_* metrics trainers report."""
    parts = []
    if "eval_mean_reward" in metrics:
        parts.append(f"mean reward {float(metrics['eval_mean_reward']):.4g}")
    if "eval_success_rate" in metrics:
        parts.append(f"success rate {100 * float(metrics['eval_success_rate']):.0f}%")
    for key, value in sorted(metrics.items()):
        if key.startswith("eval_") and key not in ("eval_mean_reward", "eval_success_rate") \
                and isinstance(value, int | float):
            parts.append(f"{key[5:].replace('_', ' ')} {value:.4g}")
    return "Greedy evaluation: " + ", ".join(parts) if parts else ""


class RLPanel(PlotPanel):
    def __init__(self, parent: QWidget | None = None, window: int = 20, cap: int = DEFAULT_CAP) -> None:
        super().__init__(parent)
        self.window, self.cap = window, cap
        self.summary = QLabel("Episodes appear here as the agent plays.")
        self.summary.setStyleSheet(f"color: {style.PANEL_TEXT}; padding: 3px 6px;")
        self.view = style.graphics_layout()
        lay = self.view.ci
        self.reward_plot = style.fast_plot(style.style_plot(
            lay.addPlot(row=0, col=0, colspan=3), "Reward per episode", "episode", "reward"))
        self.length_plot = style.fast_plot(style.style_plot(
            lay.addPlot(row=1, col=0), "Episode length", "episode", "steps"))
        self.epsilon_plot = style.fast_plot(style.style_plot(
            lay.addPlot(row=1, col=1), "Exploration ε", "episode", "ε"))
        self.loss_plot = style.fast_plot(style.style_plot(
            lay.addPlot(row=1, col=2), "Loss per episode", "episode", "loss"))
        lay.layout.setRowStretchFactor(0, 5)
        lay.layout.setRowStretchFactor(1, 3)
        self.legend = style.legend(self.reward_plot)
        self.reward_item = self.reward_plot.plot(pen=style.pen("blue", 1.0, style.FAINT_ALPHA + 30),
                                                 name="each episode")
        self.mean_item = self.reward_plot.plot(pen=style.pen("blue", 2.2), name=f"mean of last {window}")
        self.eval_line = pg.InfiniteLine(angle=0, movable=False, pen=style.pen("green", 1.8, dashed=True),
                                         label="greedy eval {value:.4g}",
                                         labelOpts={"color": style.COLORS["green"], "position": 0.98,
                                                    "anchors": [(1, 1), (1, 1)]})
        self.reward_plot.addItem(self.eval_line, ignoreBounds=False)
        self.eval_sample = pg.PlotDataItem(pen=style.pen("green", 1.8, dashed=True))  # legend swatch
        # Coarse auto-range steps: axes re-tick rarely rather than on every frame.
        self.envelopes = {plot: style.RangeEnvelope(plot) for plot in
                          (self.reward_plot, self.length_plot, self.epsilon_plot, self.loss_plot)}
        self.length_item = self.length_plot.plot(pen=style.pen("teal", 1.4))
        self.epsilon_item = self.epsilon_plot.plot(pen=style.pen("orange", 1.6))
        self.loss_item = self.loss_plot.plot(pen=style.pen("purple", 1.4))
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.summary)
        box.addWidget(self.view, 1)
        self._clear()

    def _clear(self) -> None:
        self.rewards, self.means = Series(self.cap), Series(self.cap)
        self.lengths, self.epsilons, self.losses = Series(self.cap), Series(self.cap), Series(self.cap)
        self.mean = MovingMean(self.window)
        self.evaluation: dict = {}
        self.ended = False
        for envelope in self.envelopes.values():
            envelope.clear()
        self.eval_line.hide()
        self.legend.removeItem(self.eval_sample)

    def reset(self, task: str = "") -> None:
        self._clear()
        self.summary.setText("Episodes appear here as the agent plays.")
        super().reset(task)

    @Slot(object)
    def handle(self, event: object) -> None:
        if isinstance(event, Episode):
            self.add_episode(event)
        elif isinstance(event, Finished):
            self.evaluation = {k: v for k, v in event.metrics.items() if k.startswith("eval_")}
            self.ended = True
            self.mark_dirty()

    def add_episode(self, event: Episode) -> None:
        x = float(event.episode)
        self.rewards.append(x, event.reward)
        self.means.append(x, self.mean.update(event.reward))
        self.lengths.append(x, event.length)
        self.epsilons.append(x, event.epsilon)
        if event.loss is not None:
            self.losses.append(x, event.loss)
        self.mark_dirty()

    def redraw(self) -> None:
        for series, item in ((self.rewards, self.reward_item), (self.means, self.mean_item),
                             (self.lengths, self.length_item), (self.epsilons, self.epsilon_item),
                             (self.losses, self.loss_item)):
            item.setData(*series.tail())
        for plot, series in ((self.reward_plot, self.rewards), (self.length_plot, self.lengths),
                             (self.epsilon_plot, self.epsilons), (self.loss_plot, self.losses)):
            if len(series):
                x, y = series.tail()
                self.envelopes[plot].fit(float(x[0]), float(x[-1]), float(y.min()), float(y.max()),
                                         tight=self.ended)
        self.loss_plot.setTitle("Loss per episode" if len(self.losses) else "Loss per episode (none reported)",
                                color=style.PANEL_TEXT, size="10pt")
        text = describe_evaluation(self.evaluation)
        if "eval_mean_reward" in self.evaluation:
            if not self.eval_line.isVisible():
                self.legend.addItem(self.eval_sample, "greedy evaluation")
            self.eval_line.show()  # before setValue: a hidden line does not update its label
            self.eval_line.setValue(float(self.evaluation["eval_mean_reward"]))
        if text:
            self.summary.setText(text)
        elif self.rewards.last is not None:
            episode, reward = self.rewards.last
            self.summary.setText(f"Episode {int(episode)}: reward {reward:.4g}, "
                                 f"mean of last {self.window} {self.means.last[1]:.4g}, "
                                 f"ε {self.epsilons.last[1]:.3f}")
