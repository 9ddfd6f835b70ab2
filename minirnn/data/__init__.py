"""Built-in task generators."""

from minirnn.data.adding import ADDING_BASELINE_MSE, adding_problem

__all__ = ["ADDING_BASELINE_MSE", "adding_problem"]
