"""scikit-learn's own estimator checks over the package's estimators.

The response classifier passes every check. The survival estimators take a structured
``(event, time)`` target (:func:`predictor.models.make_surv`), as scikit-survival's do, and
scikit-learn's checks only ever make 1-D targets: every check that fits one is listed below as an
expected failure, for that one reason. The checks that do not fit (parameters, cloning, repr,
``_parameter_constraints`` validation, unfitted errors) run and must pass.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from predictor.models import CoxPHBaseline, XGBResponseClassifier, XGBSurvival

pytestmark = pytest.mark.slow  # about a hundred small fits

_STRUCTURED_TARGET = "needs a structured (event, time) target; scikit-learn's checks make a 1-D one"
#: The checks that fit an estimator on a 1-D target (scikit-learn 1.9).
_FITTING_CHECKS = [
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_dtype_object",
    "check_estimators_dtypes",
    "check_estimators_fit_returns_self",
    "check_estimators_overwrite_params",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_fit2d_1feature",
    "check_fit2d_1sample",
    "check_fit2d_predict1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_fit_score_takes_y",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_n_features_in",
    "check_n_features_in_after_fitting",
    "check_pipeline_consistency",
    "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input",
    "check_regressor_data_not_an_array",
    "check_regressors_int",
    "check_regressors_no_decision_function",
    "check_regressors_train",
    "check_supervised_y_2d",
]


def _expected_failures(estimator) -> dict[str, str]:
    if isinstance(estimator, XGBResponseClassifier):
        return {}
    out = dict.fromkeys(_FITTING_CHECKS, _STRUCTURED_TARGET)
    if isinstance(estimator, CoxPHBaseline):  # it fits on clean data first, with a 1-D target
        out["check_estimators_nan_inf"] = _STRUCTURED_TARGET
    return out


@parametrize_with_checks(
    [XGBResponseClassifier(n_estimators=20, n_jobs=1), XGBSurvival(n_estimators=20, n_jobs=1), CoxPHBaseline()],
    expected_failed_checks=_expected_failures,
    xfail_strict=True,  # a check listed as failing that passes is listed wrongly
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
