#include <spdlog/spdlog.h>

#include <iostream>
#include <new>

#include "apps/cli_wording.h"
#include "apps/commands.h"

namespace tg::app {

int run_command(const Command& command) {
  try {
    return command();
  } catch (const CLI::Error& e) {  // a combination of flags that parsing alone cannot catch
    std::cerr << "tapegrad: " << e.what() << "\nRun with --help for more information.\n";
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "tapegrad: error: out of memory: a tensor or buffer could not be allocated; use a smaller --batch, "
                 "--size or --filters, or fewer --workers\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "tapegrad: error: " << in_cli_terms(e.what()) << "\n";
    return 1;
  }
}

}  // namespace tg::app
