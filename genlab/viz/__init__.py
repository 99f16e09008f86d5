"""Pictures of generative models at work: D's field under real and generated 2-D points, and
animations of a training run (:mod:`genlab.viz.lab2d`)."""

from genlab.viz.lab2d import draw_field, draw_model_field, field_and_grad, make_gif, save_figure

__all__ = ["draw_field", "draw_model_field", "field_and_grad", "make_gif", "save_figure"]
