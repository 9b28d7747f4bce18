"""The logged pyfunc model's code, logged by MLflow's models-from-code.

MLflow runs this file to build the pyfunc (``mlflow.pyfunc.load_model``, ``mlflow models
serve``), so that the model folder holds no pickled Python object: the bundle it reads is the
folder of data files that :func:`predictor.load` reads (:meth:`ModelBundle.save`).
"""

from mlflow.models import set_model

from predictor.tracking.model import PredictorModel

set_model(PredictorModel())
