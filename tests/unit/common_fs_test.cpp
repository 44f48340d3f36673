#include "common/fs.hpp"

#include <gtest/gtest.h>

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

TEST(Fs, AtomicWriteAndRemoveTree) {
    char tmpl[] = "/tmp/corral-unit-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    std::string dir = tmpl;
    ASSERT_TRUE(mkdir_p(dir + "/a/b/c"));
    ASSERT_TRUE(write_file_atomic(dir + "/a/b/c/f", "hello"));
    EXPECT_EQ(*read_file(dir + "/a/b/c/f"), "hello");
    EXPECT_FALSE(path_exists(dir + "/a/b/c/f.tmp"));
    ASSERT_TRUE(remove_tree(dir));
    EXPECT_FALSE(path_exists(dir));
}
