# examples/hello with `docker buildx bake`. buildx reads goapp.yaml through its `# syntax=`
# line as it reads a Dockerfile.
#
#   docker buildx bake -f docker-bake.hcl --load     # hello:dev, into the engine's image store
#   IMAGE=registry.example.com/team/hello TAG=1.4.2 docker buildx bake -f docker-bake.hcl --push
#   docker buildx bake -f docker-bake.hcl --set hello.platform=linux/arm64 --push
#
# IMAGE, TAG and GOAPP_REGISTRY_MIRROR are variables: an environment variable of the same name
# sets each one.

variable "IMAGE" {
  default = "hello"
}

variable "TAG" {
  default = "dev"
}

# A registry mirror every image (the Go builder and the base) is pulled from; empty: none.
variable "GOAPP_REGISTRY_MIRROR" {
  default = ""
}

group "default" {
  targets = ["hello"]
}

target "hello" {
  context    = "."
  dockerfile = "goapp.yaml"
  # Named here rather than left to the spec's `platforms`: buildx sees these, and a builder
  # with several nodes sends each platform to a node that runs it natively.
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    GOAPP_REGISTRY_MIRROR = GOAPP_REGISTRY_MIRROR
  }
  tags = ["${IMAGE}:${TAG}"]
}
