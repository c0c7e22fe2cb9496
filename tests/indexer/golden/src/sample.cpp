#include <vector>

namespace geo {

// A polygon made of vertices.
class Polygon {
 public:
  void add(int x, int y) { xs_.push_back(x); ys_.push_back(y); }
  int size() const;

 private:
  std::vector<int> xs_;
  std::vector<int> ys_;
};

int Polygon::size() const {
  return static_cast<int>(xs_.size());
}

}  // namespace geo
