# Version a small dataset: add, change, see the change, commit, and go back.
step "Generate a small example dataset: a CSV and a folder of files"
mkdir -p data/images
{
  echo "id,width,height,label"
  for i in $(seq 1 20); do echo "$i,$((32 + i)),$((32 + i)),$([ $((i % 2)) = 0 ] && echo cat || echo dog)"; done
} > data/train.csv
for i in 1 2 3 4 5; do head -c $((1000 * i)) /dev/urandom > "data/images/img$i.bin"; done
say ls -l data data/images

step "Track it with mlo: content goes to the cache, pointers to git"
say mlo data add data/train.csv data/images
say cat data/train.csv.mlo
say cat data/.gitignore
say git status --short
say git commit -qm "Track the example dataset"
DEMO_DATA_V1=$(git rev-parse HEAD)

step "Change the data"
say sh -c 'echo "21,53,53,bird" >> data/train.csv'
say rm data/images/img2.bin
say sh -c 'head -c 4096 /dev/urandom > data/images/img6.bin'

step "What changed?"
say mlo data status
say mlo data diff

step "Record the new version"
say mlo data commit
say git commit -qm "Dataset v2: one more row, img2 out, img6 in"
say mlo data diff "$DEMO_DATA_V1" HEAD

step "Go back to the first version"
say git checkout "$DEMO_DATA_V1" -- '*.mlo'
say mlo data checkout
say mlo data status
say tail -n 2 data/train.csv
say ls data/images

step "And forward again"
say git checkout HEAD -- '*.mlo'
say mlo data checkout
say mlo data ls
