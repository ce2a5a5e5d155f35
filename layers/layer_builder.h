// The builder half of every layer class: `name(...)` and the call operators, returning the concrete type so that
// Keras's keyword arguments chain: Conv2D(64, 3).activation("relu").padding("same")(x). Calling a builder puts a
// copy of the layer into the graph (layers/graph.h).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "layers/graph.h"
#include "layers/layer.h"

namespace tg {

template <class Derived, class Base = Layer>
class LayerBuilder : public Base {
 public:
  using Base::Base;
  using Layer::name;
  Derived& name(std::string name) {
    this->set_name(std::move(name));
    return static_cast<Derived&>(*this);
  }
  SymbolicTensor operator()(const SymbolicTensor& x) const { return (*this)(std::vector<SymbolicTensor>{x}); }
  SymbolicTensor operator()(std::vector<SymbolicTensor> xs) const {
    return connect(std::make_shared<Derived>(static_cast<const Derived&>(*this)), std::move(xs));
  }
};

}  // namespace tg
