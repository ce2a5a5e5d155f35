// Library errors name library options (FolderOptions::mask = MaskEncoding::index()); the command line says the same
// with its flags (--mask index), so a user is told what to type where they are.
#pragma once
#include <string>

namespace tg::app {

// `message` with the library option names that have a command-line flag replaced by that flag.
std::string in_cli_terms(const std::string& message);

}  // namespace tg::app
