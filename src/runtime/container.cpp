// placeholder until this part lands
namespace corral {}
