// Everything a user of the optimizers needs.
#pragma once
#include "optim/adam.h"
#include "optim/factory.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "optim/sgd.h"
