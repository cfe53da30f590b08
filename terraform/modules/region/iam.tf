# IAM roles for Kubernetes service accounts (IRSA): each workload gets exactly the S3 prefixes it uses.
# The role ARNs go into k8s/overlays/<environment>/irsa.yaml (`terraform output irsa_role_arns`).
locals {
  oidc_issuer = replace(aws_eks_cluster.main.identity[0].oidc[0].issuer, "https://", "")
  # The data key encrypts the buckets; objects written before it existed name the region's main key.
  data_keys = [local.data_key_arn, aws_kms_key.main.arn]
  kms_use = {
    Sid      = "UseDataKeys"
    Effect   = "Allow"
    Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
    Resource = local.data_keys
  }
  bucket_arn = { for name, bucket in module.bucket : name => bucket.arn }
  # What the pipeline keeps in the artifacts bucket: the DVC remote, the pipeline state, the feature store
  # (registry and offline table). The pipeline writes them; the stream scorer reads them.
  pipeline_prefixes = ["dvc", "state", "feast"]

  # churnops cluster-run: DVC remote and pipeline state (read, write), reports (publish). No deletes. The features
  # stage's Spark driver runs the same command (k8s/base/spark), so its role has the same statements.
  cluster_run_statements = [
    {
      Sid       = "ListArtifactPrefixes"
      Effect    = "Allow"
      Action    = "s3:ListBucket"
      Resource  = local.bucket_arn["artifacts"]
      Condition = { StringLike = { "s3:prefix" = [for prefix in local.pipeline_prefixes : "${prefix}/*"] } }
    },
    {
      Sid      = "ReadWriteArtifacts"
      Effect   = "Allow"
      Action   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
      Resource = [for prefix in local.pipeline_prefixes : "${local.bucket_arn["artifacts"]}/${prefix}/*"]
    },
    {
      Sid      = "PublishReports"
      Effect   = "Allow"
      Action   = ["s3:PutObject", "s3:AbortMultipartUpload"]
      Resource = "${local.bucket_arn["reports"]}/*"
    },
    local.kms_use,
  ]

  irsa = {
    pipeline = {
      namespace       = local.namespace
      service_account = "churnops-pipeline"
      statements      = local.cluster_run_statements
    }
    spark-driver = {
      namespace       = local.namespace
      service_account = "churnops-spark-driver"
      statements      = local.cluster_run_statements
    }
    # The Spark executors read the event log where DVC keeps it (content-addressed objects under dvc/files/): nothing
    # else, and nothing written. The table goes back through the driver.
    spark-executor = {
      namespace       = local.namespace
      service_account = "churnops-spark-executor"
      statements = [
        {
          Sid       = "ListDvcObjects"
          Effect    = "Allow"
          Action    = "s3:ListBucket"
          Resource  = local.bucket_arn["artifacts"]
          Condition = { StringLike = { "s3:prefix" = ["dvc/files/*"] } }
        },
        {
          Sid      = "ReadDvcObjects"
          Effect   = "Allow"
          Action   = "s3:GetObject"
          Resource = "${local.bucket_arn["artifacts"]}/dvc/files/*"
        },
        {
          Sid      = "DecryptDvcObjects"
          Effect   = "Allow"
          Action   = "kms:Decrypt"
          Resource = local.data_keys
        },
      ]
    }
    # The MLflow server proxies every artifact upload and download: it alone writes the model store.
    mlflow = {
      namespace       = local.namespace
      service_account = "churnops-mlflow"
      statements = [
        {
          Sid       = "ListMlflowArtifacts"
          Effect    = "Allow"
          Action    = "s3:ListBucket"
          Resource  = local.bucket_arn["mlflow"]
          Condition = { StringLike = { "s3:prefix" = ["artifacts/*"] } }
        },
        {
          Sid      = "ReadWriteMlflowArtifacts"
          Effect   = "Allow"
          Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
          Resource = "${local.bucket_arn["mlflow"]}/artifacts/*"
        },
        local.kms_use,
      ]
    }
    # The API loads the champion through the MLflow server; read-only access to the model store lets it
    # load from S3 directly when the server does not proxy artifacts (mlflow server --no-serve-artifacts).
    api = {
      namespace       = local.namespace
      service_account = "churnops-api"
      statements = [
        {
          Sid      = "ReadModels"
          Effect   = "Allow"
          Action   = "s3:GetObject"
          Resource = "${local.bucket_arn["mlflow"]}/artifacts/*"
        },
        {
          Sid      = "ReadFeatureRegistry" # /predict/customer: which features the online store serves
          Effect   = "Allow"
          Action   = "s3:GetObject"
          Resource = "${local.bucket_arn["artifacts"]}/feast/*"
        },
        {
          Sid      = "DecryptModels"
          Effect   = "Allow"
          Action   = "kms:Decrypt"
          Resource = local.data_keys
        },
      ]
    }
    # churnops stream run: the customer table of the last cluster run (pipeline state + DVC remote) and the
    # feature registry, read-only; the champion comes through the MLflow server.
    stream = {
      namespace       = local.namespace
      service_account = "churnops-stream"
      statements = [
        {
          Sid       = "ListPipelineState"
          Effect    = "Allow"
          Action    = "s3:ListBucket"
          Resource  = local.bucket_arn["artifacts"]
          Condition = { StringLike = { "s3:prefix" = [for prefix in local.pipeline_prefixes : "${prefix}/*"] } }
        },
        {
          Sid      = "ReadPipelineStateAndFeatureRegistry"
          Effect   = "Allow"
          Action   = "s3:GetObject"
          Resource = [for prefix in local.pipeline_prefixes : "${local.bucket_arn["artifacts"]}/${prefix}/*"]
        },
        {
          Sid      = "DecryptArtifacts"
          Effect   = "Allow"
          Action   = "kms:Decrypt"
          Resource = local.data_keys
        },
      ]
    }
    # The EBS CSI driver (eks.tf) provisions the MLflow database volume: AWS's managed policy below.
    ebs-csi = {
      namespace       = "kube-system"
      service_account = "ebs-csi-controller-sa"
      statements      = []
    }
  }
}

resource "aws_iam_role" "irsa" {
  for_each = local.irsa
  name     = "${local.prefix}-${each.key}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = aws_iam_openid_connect_provider.eks.arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "${local.oidc_issuer}:sub" = "system:serviceaccount:${each.value.namespace}:${each.value.service_account}"
          "${local.oidc_issuer}:aud" = "sts.amazonaws.com"
        }
      }
    }]
  })
}

resource "aws_iam_role_policy" "irsa" {
  for_each = { for name, role in local.irsa : name => role if length(role.statements) > 0 }
  name     = "least-privilege"
  role     = aws_iam_role.irsa[each.key].id
  policy   = jsonencode({ Version = "2012-10-17", Statement = each.value.statements })
}

resource "aws_iam_role_policy_attachment" "ebs_csi" {
  role       = aws_iam_role.irsa["ebs-csi"].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
}
