// console_assets.h - the web console's files, embedded in emberd at build
// time (console_assets.cpp is generated from src/platform/console/ by
// embed_console.cmake).
#pragma once

#include <cstddef>

namespace ember::platform {

struct ConsoleAsset {
    const char* name;  // the file name, e.g. "app.js"
    const unsigned char* data;
    size_t size;
};

extern const ConsoleAsset kConsoleAssets[];
extern const size_t kConsoleAssetCount;

}  // namespace ember::platform
