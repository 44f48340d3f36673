#include "common/fs.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>

using namespace corral;

TEST(CleanPath, CollapsesDotsAndSlashes) {
    EXPECT_EQ(clean_path("/a//b/./c/"), "/a/b/c");
    EXPECT_EQ(clean_path("/../../etc"), "/etc");
    EXPECT_EQ(clean_path("a/../../b"), "/b");
    EXPECT_EQ(clean_path(""), "/");
}

TEST(PathJoin, NeverDoublesSlashes) {
    EXPECT_EQ(path_join("/run/corral", "c1"), "/run/corral/c1");
    EXPECT_EQ(path_join("/run/corral/", "/c1"), "/run/corral/c1");
}

TEST(ErrorContext, Chains) {
    Error e = Error::from_errno(ENOENT, "open", "/x");
    e.context("load spec");
    EXPECT_EQ(e.message(), "load spec: open `/x`: No such file or directory");
    EXPECT_EQ(e.err(), ENOENT);
    EXPECT_EQ(e.path(), "/x");
}

static Result<int> half(int x) {
    if (x % 2) return Error("odd");
    return x / 2;
}
static Result<int> quarter(int x) {
    int h = CORRAL_TRY_CTX(half(x), "first half");
    return CORRAL_TRY(half(h));
}

TEST(Result, TryPropagates) {
    EXPECT_EQ(*quarter(8), 2);
    auto r = quarter(6);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "odd");
    EXPECT_EQ(quarter(3).error().message(), "first half: odd");
}

TEST(Error, KindsAreKeptThroughContextAndNamedForTheWire) {
    Error e(ErrorKind::not_found, "pods \"x\" not found");
    e.context("get");
    EXPECT_TRUE(e.is(ErrorKind::not_found));
    EXPECT_EQ(e.message(), "get: pods \"x\" not found");
    EXPECT_EQ(error_kind_name(ErrorKind::already_exists), "already_exists");
    for (ErrorKind k : {ErrorKind::unknown, ErrorKind::not_found, ErrorKind::already_exists, ErrorKind::invalid,
                        ErrorKind::conflict, ErrorKind::unavailable, ErrorKind::transport})
        EXPECT_EQ(error_kind_from_name(error_kind_name(k)), k);
    EXPECT_EQ(error_kind_from_name("NoSuchKind"), ErrorKind::unknown);
    // Unclassified errors, the runtime's, stay unknown.
    EXPECT_TRUE(Error::from_errno(ENOENT, "open", "/x").is(ErrorKind::unknown));
    EXPECT_TRUE(Error("x").with_kind(ErrorKind::conflict).is(ErrorKind::conflict));
}

TEST(Fs, AtomicWriteAndRemoveTree) {
    char tmpl[] = "/tmp/corral-unit-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    std::string dir = tmpl;
    ASSERT_TRUE(mkdir_p(dir + "/a/b/c"));
    ASSERT_TRUE(write_file_atomic(dir + "/a/b/c/f", "hello"));
    EXPECT_EQ(*read_file(dir + "/a/b/c/f"), "hello");
    ASSERT_TRUE(write_file_atomic(dir + "/a/b/c/f", "again", 0644));
    EXPECT_EQ(*read_file(dir + "/a/b/c/f"), "again");
    struct stat st {};
    ASSERT_EQ(::stat((dir + "/a/b/c/f").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);
    // No temp file is left beside it.
    size_t entries = 0;
    for (const auto &e : std::filesystem::directory_iterator(dir + "/a/b/c")) {
        EXPECT_EQ(e.path().filename(), "f");
        ++entries;
    }
    EXPECT_EQ(entries, 1u);
    ASSERT_TRUE(remove_tree(dir));
    EXPECT_FALSE(path_exists(dir));
}
