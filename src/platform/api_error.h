// api_error.h - an operation's failure as the API reports it: HTTP status, a
// stable code, and a one-line message; and Expected<T> = a value or one.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace ember::platform {

struct ApiError {
    int status = 500;
    std::string code;  // "invalid_argument", "not_found", "conflict", ...
    std::string message;

    static ApiError bad_request(std::string m) { return {400, "invalid_argument", std::move(m)}; }
    static ApiError not_found(std::string m) { return {404, "not_found", std::move(m)}; }
    static ApiError conflict(std::string m) { return {409, "conflict", std::move(m)}; }
    static ApiError internal(std::string m) { return {500, "internal", std::move(m)}; }
};

template <typename T>
class [[nodiscard]] Expected {
  public:
    Expected(T v) : v_(std::move(v)) {}
    Expected(ApiError e) : v_(std::move(e)) {}
    bool ok() const { return v_.index() == 0; }
    T& value() { return std::get<0>(v_); }
    const ApiError& error() const { return std::get<1>(v_); }

  private:
    std::variant<T, ApiError> v_;
};

}  // namespace ember::platform
