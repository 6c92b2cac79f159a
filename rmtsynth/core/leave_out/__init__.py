"""Leave-out decision values of a standardise-then-fit pipeline on a user's rows.

Each function takes the raw training rows (real and synthetic together), labels -1/+1, a group
per row (rows of one group are left out together: duplicates) and a mask of the rows to score
(the real rows), and returns, for every scored row, the decision value of the pipeline fitted
without that row's group. Nothing here reads files or knows about configs.

* :func:`ridge_leave_out`: exact, for ``StandardScaler`` + ridge with an unpenalised intercept
  (scikit-learn's ``RidgeClassifier``), the scaler's refit included; cost follows min(N, p).
* :func:`convex_leave_out`: the leave-one-out of an L2-regularised smooth convex loss, for
  logistic regression and the squared hinge: one Newton step from the full fit, and exact refits
  of the rows that step leaves near 0 (the only ones whose sign its error can change).
* :func:`cross_fit_decisions`: K-fold cross-fitting for any other estimator.
"""

from rmtsynth.core.leave_out.convex import LOSSES, ConvexLoss, convex_leave_out
from rmtsynth.core.leave_out.cross_fit import cross_fit_decisions
from rmtsynth.core.leave_out.groups import duplicate_groups
from rmtsynth.core.leave_out.ridge import ridge_leave_out
from rmtsynth.core.leave_out.scaling import standard_scaling

__all__ = [
    "LOSSES", "ConvexLoss", "convex_leave_out", "cross_fit_decisions", "duplicate_groups", "ridge_leave_out",
    "standard_scaling",
]
