# The one image of ./Dockerfile (API, pipeline stages, MLflow server). Tags are immutable: a tag (the commit
# SHA the CI workflow builds) always names the same digest, which is what k8s/overlays pin.
resource "aws_ecr_repository" "churnops" {
  name                 = var.name
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.main.arn
  }
}

resource "aws_ecr_lifecycle_policy" "churnops" {
  repository = aws_ecr_repository.churnops.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "keep the newest 100 images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 100 }
      action       = { type = "expire" }
    }]
  })
}
