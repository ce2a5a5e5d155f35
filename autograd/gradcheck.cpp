#include "autograd/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "autograd/ops.h"
#include "autograd/random/rng.h"
#include "autograd/tape.h"

namespace tg {

namespace {
double projected(const Variable& y, const Tensor& weights) {
  const double* py = y.value().data<double>();
  const double* pw = weights.data<double>();
  double s = 0.0;
  for (int64_t i = 0; i < weights.numel(); ++i) s += py[i] * pw[i];
  return s;
}
}  // namespace

GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& o) {
  GradcheckResult result;
  std::vector<Variable> vars;
  for (const Tensor& t : inputs) vars.emplace_back(t.to(DType::F64).clone(), true);

  // Analytic gradients from one forward and backward pass.
  Variable y = f(vars);
  if (y.dtype() != DType::F64)
    throw std::invalid_argument("gradcheck: the function returned a " + std::string(dtype_name(y.dtype())) +
                                " value for float64 inputs; it must compute in the inputs' dtype");
  Rng rng(o.seed);
  Tensor weights(y.shape(), DType::F64);
  rng.fill_uniform(weights, -1.0, 1.0);
  if (!y.requires_grad()) throw std::invalid_argument("gradcheck: the output does not depend on any input");
  Variable loss = sum(mul(y, Variable(weights)));
  loss.backward();

  // Numerical gradients, element by element.
  for (size_t k = 0; k < vars.size(); ++k) {
    Tensor& x = vars[k].value();
    const Tensor analytic = vars[k].has_grad() ? vars[k].grad() : Tensor::zeros(x.shape(), DType::F64);
    std::vector<int64_t> elements(static_cast<size_t>(x.numel()));
    std::iota(elements.begin(), elements.end(), 0);
    if (o.max_checks_per_input > 0 && x.numel() > o.max_checks_per_input) {
      for (int64_t i = 0; i < o.max_checks_per_input; ++i)
        std::swap(elements[i], elements[i + rng.uniform_int(x.numel() - i)]);
      elements.resize(static_cast<size_t>(o.max_checks_per_input));
      std::sort(elements.begin(), elements.end());
    }
    std::vector<double> numeric(elements.size());
    {
      NoGrad no_grad;
      double* p = x.data<double>();
      for (size_t j = 0; j < elements.size(); ++j) {
        const double saved = p[elements[j]];
        p[elements[j]] = saved + o.eps;
        const double plus = projected(f(vars), weights);
        p[elements[j]] = saved - o.eps;
        const double minus = projected(f(vars), weights);
        p[elements[j]] = saved;
        numeric[j] = (plus - minus) / (2 * o.eps);
      }
    }
    double scale = 0.0;
    for (double v : numeric) scale = std::max(scale, std::fabs(v));
    const double floor = 1e-3 * scale;
    for (size_t j = 0; j < elements.size(); ++j) {
      const double a = analytic.data<double>()[elements[j]], n = numeric[j];
      const double abs_err = std::fabs(a - n);
      const double denom = std::max({std::fabs(a), std::fabs(n), floor});
      const double rel_err = denom > 0 ? abs_err / denom : 0.0;
      result.max_abs_error = std::max(result.max_abs_error, abs_err);
      result.max_rel_error = std::max(result.max_rel_error, rel_err);
      ++result.checked;
      if (result.ok && abs_err > o.atol + o.rtol * denom) {
        result.ok = false;
        std::ostringstream os;
        os.precision(10);
        os << "gradcheck failed: input " << k << " " << shape_str(x.shape()) << " element " << elements[j] << " "
           << index_str(elements[j], x.shape()) << ": analytic " << a << ", numeric " << n << " (abs error "
           << abs_err << ", relative error " << rel_err << " > rtol " << o.rtol << ")";
        result.message = os.str();
      }
    }
  }
  if (result.ok) {
    std::ostringstream os;
    os << "gradcheck passed: " << result.checked << " elements, max relative error " << result.max_rel_error;
    result.message = os.str();
  }
  return result;
}

}  // namespace tg
