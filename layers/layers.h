// The layers library: functional layers, Model, model zoo.
#pragma once
#include "layers/functional.h"
#include "layers/model.h"
#include "layers/registry.h"
#include "layers/zoo.h"
