// The web UI's files (the repository's ui/ directory), compiled into the binary by
// cmake/embed_files.cmake so a master serves its UI with nothing beside it (docs/ui.md).
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace berth::ui {

// Every file of ui/ by its path below ui/ ("index.html", "pages/apps.js").
const std::map<std::string, std::string_view>& embedded_files();

}  // namespace berth::ui
