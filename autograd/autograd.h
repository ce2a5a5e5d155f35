// Everything a user of the autograd layer needs.
#pragma once
#include "autograd/argmax.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "autograd/precision.h"
#include "autograd/random/rng.h"
#include "autograd/tape.h"
#include "autograd/tensor.h"
#include "autograd/variable.h"
