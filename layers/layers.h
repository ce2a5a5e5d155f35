// The one header a user includes: every layer class, the functional Model and the model zoo, enough to write a
// model the Keras functional way (README, examples/).
#pragma once
#include "layers/activation.h"
#include "layers/batch_normalization.h"
#include "layers/conv2d.h"
#include "layers/conv2d_transpose.h"
#include "layers/dropout.h"
#include "layers/input.h"
#include "layers/merge.h"
#include "layers/model.h"
#include "layers/pooling.h"
#include "layers/registry.h"
#include "layers/upsampling2d.h"
#include "layers/zoo.h"
